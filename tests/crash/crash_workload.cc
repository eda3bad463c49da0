#include "tests/crash/crash_workload.h"

#include <map>
#include <random>
#include <set>

#include "broker/broker_test_support.h"
#include "util/crc32c.h"

namespace ballast::crash {

namespace {

using broker::testing::await_call;

constexpr const char* kMain = "main";
constexpr const char* kDead = "dead";
constexpr const char* kSlow = "slow";

struct Model {
  std::map<std::string, std::string> confirmed;  // id -> body
  std::set<std::string> acked;                   // confirmed settled
  std::set<std::string> maybe_acked;             // ack answered with an error
  std::set<std::string> dead_lettered;           // confirmed moved to kDead
  std::set<std::string> maybe_dead;              // nack answered with an error
};

std::string body_for(const std::string& id, std::mt19937_64& random) {
  std::string body = id + ":";
  const size_t length = 150 + random() % 450;
  while (body.size() < length) body.push_back(static_cast<char>('a' + random() % 26));
  return body;
}

class Workload {
 public:
  Workload(broker::BrokerCore& core, Model& model, uint64_t seed)
      : core_(core), model_(model), random_(seed) {}

  // Runs until `steps` are done or an operation fails; returns the steps answered.
  uint64_t run(int steps) {
    uint64_t answered = 0;
    if (!setup()) return answered;
    for (int step = 0; step < steps; ++step) {
      if (!one_step()) break;
      ++answered;
    }
    return answered;
  }

 private:
  bool setup() {
    broker::QueueSettings settings;
    settings.dead_letter_queue = kDead;
    for (const auto& [name, queue_settings] :
         {std::pair{kMain, settings}, std::pair{kDead, broker::QueueSettings{}},
          std::pair{kSlow, broker::QueueSettings{}}}) {
      auto created = await_call<broker::CreateQueueOutcome>(
          [&](auto done) { core_.create_queue("/", name, queue_settings, done); });
      if (!created) return false;
    }
    return publish(kSlow, 1);  // never consumed: pins the first segment until compaction
  }

  bool publish(const char* queue, int count) {
    std::vector<broker::PublishRequest> batch;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      broker::PublishRequest request;
      request.id = fmt::format("m{}", next_id_++);
      request.body = body_for(request.id, random_);
      ids.push_back(request.id);
      batch.push_back(request);
    }
    auto published =
        await_call<broker::PublishOutcome>([&](auto done) { core_.publish("/", queue, batch, done); });
    if (!published) return false;
    for (const auto& request : batch) model_.confirmed[request.id] = request.body;
    return true;
  }

  std::vector<broker::DeliveredMessage> receive(int max) {
    broker::ReceiveRequest request;
    request.max_messages = static_cast<uint32_t>(max);
    auto received = await_call<std::vector<broker::DeliveredMessage>>(
        [&](auto done) { core_.receive("/", kMain, request, done); });
    return received ? *received : std::vector<broker::DeliveredMessage>{};
  }

  bool ack_some() {
    auto received = receive(1 + static_cast<int>(random_() % 3));
    if (received.empty()) return true;
    std::vector<std::string> receipts;
    for (const auto& message : received) receipts.push_back(message.receipt);
    auto acked = await_call<broker::SettleOutcome>([&](auto done) { core_.ack("/", kMain, receipts, done); });
    for (const auto& message : received) (acked ? model_.acked : model_.maybe_acked).insert(message.id);
    return acked.ok();
  }

  bool nack_one(bool requeue) {
    auto received = receive(1);
    if (received.empty()) return true;
    auto nacked = await_call<broker::SettleOutcome>(
        [&](auto done) { core_.nack("/", kMain, {received[0].receipt}, requeue, done); });
    if (!requeue) (nacked ? model_.dead_lettered : model_.maybe_dead).insert(received[0].id);
    return nacked.ok();
  }

  bool checkpoint() {
    return await_call<void>([&](auto done) { core_.checkpoint_now(done); }).ok();
  }

  bool one_step() {
    const uint64_t choice = random_() % 10;
    if (choice < 5) return publish(kMain, 1 + static_cast<int>(random_() % 3));
    if (choice < 7) return ack_some();
    if (choice == 7) return nack_one(false);
    if (choice == 8) return nack_one(true);
    return checkpoint();
  }

  broker::BrokerCore& core_;
  Model& model_;
  std::mt19937_64 random_;
  uint64_t next_id_ = 1;
};

std::map<std::string, std::vector<std::string>> drain(broker::BrokerCore& core, const char* queue) {
  std::map<std::string, std::vector<std::string>> found;  // id -> bodies seen
  for (int round = 0; round < 1000; ++round) {
    broker::ReceiveRequest request;
    request.max_messages = 1000;
    request.visibility_timeout_seconds = 3600;
    auto received = await_call<std::vector<broker::DeliveredMessage>>(
        [&](auto done) { core.receive("/", queue, request, done); });
    if (!received || received->empty()) break;
    for (auto& message : *received) found[message.id].push_back(message.body);
  }
  return found;
}

std::unique_ptr<broker::BrokerCore> open_broker(const std::filesystem::path& dir, storage::FileSystem& fs,
                                                const WorkloadOptions& options, std::string* error) {
  broker::BrokerOptions broker_options;
  broker_options.data_dir = dir.string();
  broker_options.segment_bytes = options.segment_bytes;
  broker_options.reserve_bytes = 64 << 10;
  broker_options.checkpoint_interval_ms = 24 * 3600 * 1000;
  broker_options.file_system = &fs;
  broker_options.journal_defect = options.defect;
  auto core = std::make_unique<broker::BrokerCore>(broker_options, nullptr,
                                                   std::make_unique<broker::testing::ManualClock>());
  auto status = core->open();
  if (!status) {
    *error = status.error().describe();
    return nullptr;
  }
  core->run();
  return core;
}

void check(const Model& model, broker::BrokerCore& core, std::vector<std::string>& violations) {
  std::map<std::string, std::string> where;  // id -> queue it was found in
  std::map<std::string, std::string> bodies;
  for (const char* queue : {kMain, kDead, kSlow}) {
    for (const auto& [id, seen] : drain(core, queue)) {
      if (seen.size() > 1 || where.contains(id)) {
        violations.push_back(fmt::format("message {} is present more than once", id));
      }
      where[id] = queue;
      bodies[id] = seen.front();
    }
  }
  for (const auto& [id, body] : model.confirmed) {
    const bool acked = model.acked.contains(id);
    const bool uncertain = model.maybe_acked.contains(id);
    auto found = where.find(id);
    if (acked && found != where.end())
      violations.push_back(fmt::format("acknowledged message {} came back", id));
    if (acked || uncertain) continue;
    if (found == where.end()) {
      violations.push_back(fmt::format("confirmed message {} is lost", id));
      continue;
    }
    if (bodies[id] != body)
      violations.push_back(fmt::format("message {} came back with a different body", id));
    if (model.dead_lettered.contains(id) && found->second != kDead) {
      violations.push_back(
          fmt::format("dead-lettered message {} is in {}, not in {}", id, found->second, kDead));
    }
  }
  for (const auto& [id, queue] : where) {
    if (!model.confirmed.contains(id) && id.rfind('m', 0) != 0) {
      violations.push_back(fmt::format("unknown message {} appeared", id));
    }
  }
}

}  // namespace

RunResult run_crash_point(const std::filesystem::path& scratch, const WorkloadOptions& options,
                          const CrashPoint& point) {
  RunResult result;
  const std::filesystem::path dir = scratch / fmt::format("run-{}-{}", point.call, point.loss_seed);
  std::filesystem::remove_all(dir);
  storage::FaultFileSystem faults;
  Model model;
  {
    std::string error;
    if (point.call != 0 && point.fail_sync_instead) {
      faults.fail_call(storage::FaultOp::kSync, point.call, EIO);
    } else if (point.call != 0) {
      faults.crash_at_call(point.call, point.torn_bytes);
    }
    auto core = open_broker(dir, faults, options, &error);
    if (core) {
      Workload workload(*core, model, options.seed);
      result.operations = workload.run(options.steps);
      result.dead_lettered = model.dead_lettered.size();
      result.io_calls = faults.calls();
    } else {
      result.io_calls = faults.calls();
    }
  }
  faults.simulate_power_loss(point.model, point.loss_seed);
  storage::PosixFileSystem posix;
  std::string error;
  auto recovered = open_broker(dir, posix, options, &error);
  if (!recovered) {
    result.violations.push_back("recovery failed: " + error);
  } else {
    const auto health = recovered->health();
    for (const auto& part : health.degraded)
      result.violations.push_back("degraded after recovery: " + part.message);
    check(model, *recovered, result.violations);
  }
  recovered.reset();
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace ballast::crash

#include "tests/crash/crash_workload.h"

#include <endian.h>

#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "broker/broker_test_support.h"
#include "storage/record_codec.h"
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
  std::set<std::string> never_applied;           // published in a torn group: must not appear
};

std::string body_for(const std::string& id, std::mt19937_64& random) {
  std::string body = id + ":";
  const size_t length = 150 + random() % 450;
  while (body.size() < length) body.push_back(static_cast<char>('a' + random() % 26));
  return body;
}

class Workload {
 public:
  // `faults`, if set, is asked whether a failure was the simulated crash; any other failure
  // is waited out until the broker has repaired its journal.
  Workload(broker::BrokerCore& core, Model& model, uint64_t seed, const storage::FaultFileSystem* faults)
      : core_(core), model_(model), random_(seed), faults_(faults) {}

  // Runs until `steps` are done or an operation fails (and is not repaired); returns the
  // steps answered.
  uint64_t run(int steps) {
    uint64_t answered = 0;
    if (!setup()) return answered;
    for (int step = 0; step < steps; ++step) {
      if (!one_step() && !repaired()) break;
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
    if (!published) {
      // Refused or failed by the injected fault (not the crash): a repair cuts it off for good.
      if (faults_ != nullptr && !faults_->crashed()) model_.never_applied.insert(ids.begin(), ids.end());
      return false;
    }
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

  bool repaired() {
    if (faults_ == nullptr || faults_->crashed()) return false;
    // The broker reports the refusal at its next tick, then clears it once the journal resumes.
    const bool refused = broker::testing::eventually(
        [&] { return core_.health().publish_refusal.has_value(); }, std::chrono::milliseconds(200));
    if (!refused) return !faults_->crashed();
    return broker::testing::eventually(
        [&] { return !faults_->crashed() && !core_.health().publish_refusal; });
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
  const storage::FaultFileSystem* faults_;
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
  if (options.repair_after_failure) broker_options.self_check_interval_ms = 10;
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
    if (model.never_applied.contains(id)) {
      violations.push_back(fmt::format("message {} of a torn group was applied", id));
    }
    if (!model.confirmed.contains(id) && id.rfind('m', 0) != 0) {
      violations.push_back(fmt::format("unknown message {} appeared", id));
    }
  }
}

// Reopens `dir` on the real file system as a fresh boot would, checks `model`'s promises into
// `result` and removes the directory.
void recover_and_check(const std::filesystem::path& dir, const WorkloadOptions& options, const Model& model,
                       RunResult& result) {
  storage::PosixFileSystem posix;
  std::string error;
  auto recovered = open_broker(dir, posix, options, &error);
  if (!recovered) {
    result.violations.push_back("recovery failed: " + error);
  } else {
    for (const auto& part : recovered->health().degraded)
      result.violations.push_back("degraded after recovery: " + part.message);
    check(model, *recovered, result.violations);
  }
  recovered.reset();
  std::filesystem::remove_all(dir);
}

// Where the last complete record header of `data` (records back to back) starts.
size_t last_record_start(std::span<const std::byte> data) {
  size_t last = 0;
  for (size_t at = 0; at + storage::kRecordHeaderBytes <= data.size();) {
    uint32_t payload_bytes = 0;
    std::memcpy(&payload_bytes, data.data() + at + 4, sizeof(payload_bytes));
    const size_t next = at + storage::encoded_record_bytes(le32toh(payload_bytes));
    if (next > data.size()) break;
    last = at;
    at = next;
  }
  return last;
}

storage::TornWrite tear_last_header(const TornHeaderPoint& point) {
  return [point](std::span<const std::byte> data) {
    const size_t keep = std::min(data.size(), last_record_start(data) + point.header_bytes);
    std::string on_disk(reinterpret_cast<const char*>(data.data()), keep);
    if (point.garbage_seed) {
      std::mt19937_64 random(*point.garbage_seed);
      const size_t garbage = 1 + random() % 96;
      for (size_t i = 0; i < garbage; ++i) on_disk.push_back(static_cast<char>(random()));
    }
    return on_disk;
  };
}

// The torn-header run before the crash: confirmed publishes and acks, then the victim group.
void run_until_torn(broker::BrokerCore& core, storage::FaultFileSystem& faults, Model& model,
                    const TornHeaderPoint& point) {
  std::mt19937_64 random(point.header_bytes);
  auto created = await_call<broker::CreateQueueOutcome>(
      [&](auto done) { core.create_queue("/", kMain, broker::QueueSettings{}, done); });
  if (!created) return;
  for (int i = 0; i < 6; ++i) {
    broker::PublishRequest request;
    request.id = fmt::format("m{}", i);
    request.body = body_for(request.id, random);
    auto published =
        await_call<broker::PublishOutcome>([&](auto done) { core.publish("/", kMain, {request}, done); });
    if (published) model.confirmed[request.id] = request.body;
  }
  auto take_two = [&] {
    broker::ReceiveRequest request;
    request.max_messages = 2;
    auto received = await_call<std::vector<broker::DeliveredMessage>>(
        [&](auto done) { core.receive("/", kMain, request, done); });
    std::vector<std::string> receipts;
    if (received) {
      for (const auto& message : *received) receipts.push_back(message.receipt);
    }
    return std::pair{receipts, received ? *received : std::vector<broker::DeliveredMessage>{}};
  };
  auto [receipts, acked] = take_two();
  if (await_call<broker::SettleOutcome>([&](auto done) { core.ack("/", kMain, receipts, done); })) {
    for (const auto& message : acked) model.acked.insert(message.id);
  }
  auto [victim_receipts, victims] = take_two();
  faults.crash_at_call(faults.calls() + 1, tear_last_header(point));
  if (point.victim_is_ack) {
    // Never confirmed, and the group cannot apply: both stay confirmed unsettled messages.
    await_call<broker::SettleOutcome>([&](auto done) {
      core.ack("/", kMain, victim_receipts, done);
    }).ignore("the crash fails it");
    return;
  }
  std::vector<broker::PublishRequest> batch(2);
  for (int i = 0; i < 2; ++i) {
    batch[i].id = fmt::format("victim{}", i);
    batch[i].body = body_for(batch[i].id, random);
    model.never_applied.insert(batch[i].id);
  }
  await_call<broker::PublishOutcome>([&](auto done) {
    core.publish("/", kMain, batch, done);
  }).ignore("the crash fails it");
}

}  // namespace

RunResult run_torn_header_point(const std::filesystem::path& scratch, const TornHeaderPoint& point) {
  RunResult result;
  const std::filesystem::path dir =
      scratch / fmt::format("torn-{}-{}-{}", point.header_bytes, point.garbage_seed.value_or(0),
                            point.victim_is_ack ? "ack" : "publish");
  std::filesystem::remove_all(dir);
  WorkloadOptions options;
  options.segment_bytes = 64 << 10;  // no roll-over: the victim's write is the next I/O call
  storage::FaultFileSystem faults;
  Model model;
  {
    std::string error;
    auto core = open_broker(dir, faults, options, &error);
    if (!core) {
      result.violations.push_back("first open failed: " + error);
      return result;
    }
    run_until_torn(*core, faults, model, point);
    result.io_calls = faults.calls();
    if (!faults.crashed()) result.violations.push_back("the victim group's write did not crash");
  }
  faults.simulate_power_loss(storage::PowerLossModel::kProcessCrashOnly, 0);
  recover_and_check(dir, options, model, result);
  return result;
}

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
    if (point.fail_sync != 0) faults.fail_call(storage::FaultOp::kSync, point.fail_sync, EIO);
    auto core = open_broker(dir, faults, options, &error);
    if (core) {
      Workload workload(*core, model, options.seed, options.repair_after_failure ? &faults : nullptr);
      result.operations = workload.run(options.steps);
      result.dead_lettered = model.dead_lettered.size();
      result.io_calls = faults.calls();
    } else {
      result.io_calls = faults.calls();
    }
  }
  faults.simulate_power_loss(point.model, point.loss_seed);
  recover_and_check(dir, options, model, result);
  return result;
}

}  // namespace ballast::crash

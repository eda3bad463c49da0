// The broker-wide limits (resource_limits.h) through a real BrokerCore and journal: the disk
// limit counts the real segment files, the memory limit reads an injected probe.
#include "broker/resource_limits.h"

#include <gtest/gtest.h>

#include <mutex>

#include "broker/broker_test_support.h"
#include "util/log.h"

namespace ballast::broker {
namespace {

using testing::await_call;
using testing::eventually;
using testing::ManualClock;
using testing::TempDir;

// Captures the event log while it lives.
class CapturedEvents {
 public:
  CapturedEvents() {
    log::set_sink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~CapturedEvents() { log::set_sink({}); }
  size_t count(std::string_view event) const {
    std::lock_guard lock(mu_);
    const std::string needle = fmt::format("event={} ", event);
    size_t found = 0;
    for (const auto& line : lines_) found += line.find(needle) != std::string::npos ? 1 : 0;
    return found;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

class BrokerLimitsTest : public ::testing::Test {
 protected:
  void start(BrokerOptions options) {
    options.data_dir = (dir_.path() / "data").string();
    options.checkpoint_interval_ms = 3'600'000;
    broker_ = std::make_unique<BrokerCore>(options, std::make_unique<storage::PosixFileSystem>(),
                                           std::make_unique<ManualClock>());
    auto status = broker_->open();
    ASSERT_TRUE(status.ok()) << status.error().describe();
    broker_->run();
    auto created =
        await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", "jobs", {}, done); });
    ASSERT_TRUE(created.ok()) << created.error().describe();
  }

  Result<PublishOutcome> publish(size_t body_bytes = 1000) {
    PublishRequest request;
    request.body = std::string(body_bytes, 'p');
    return await_call<PublishOutcome>([&](auto done) { broker_->publish("/", "jobs", {request}, done); });
  }

  // Receives and acks everything in "jobs"; returns how many.
  size_t drain() {
    size_t drained = 0;
    for (int round = 0; round < 1000; ++round) {
      ReceiveRequest request;
      request.max_messages = 100;
      auto received = await_call<std::vector<DeliveredMessage>>(
          [&](auto done) { broker_->receive("/", "jobs", request, done); });
      if (!received.ok() || received->empty()) break;
      std::vector<std::string> receipts;
      for (const auto& message : *received) receipts.push_back(message.receipt);
      auto acked = await_call<SettleOutcome>([&](auto done) { broker_->ack("/", "jobs", receipts, done); });
      EXPECT_TRUE(acked.ok()) << acked.error().describe();
      drained += received->size();
    }
    return drained;
  }

  Status checkpoint() {
    return await_call<void>([&](auto done) { broker_->checkpoint_now(done); });
  }

  CapturedEvents events_;
  TempDir dir_;
  std::unique_ptr<BrokerCore> broker_;
};

TEST_F(BrokerLimitsTest, DiskLimitRefusesGrowthKeepsAcksAndClearsAfterReclamation) {
  BrokerOptions options;
  options.segment_bytes = 64 << 10;
  options.max_disk_bytes = 4 * options.segment_bytes;
  options.reserve_bytes = 0;
  start(options);
  std::optional<Error> refused;
  size_t stored = 0;
  for (int i = 0; i < 1000 && !refused; ++i) {
    auto result = publish(4000);
    if (result.ok()) ++stored;
    if (!result.ok()) refused = result.error();
  }
  ASSERT_TRUE(refused.has_value()) << "the disk limit was never reached";
  EXPECT_EQ(refused->code(), ErrorCode::kBrokerDiskLimit);
  EXPECT_NE(refused->message().find("limits.max_disk_bytes = 262144"), std::string::npos)
      << refused->message();
  EXPECT_NE(refused->message().find((dir_.path() / "data" / "journal").string()), std::string::npos);
  EXPECT_NE(refused->fix().find("consume"), std::string::npos) << refused->fix();
  EXPECT_GT(stored, 40u);  // three segments' worth was taken
  EXPECT_NE(refused->message().find("until it is at or under 131072 bytes"), std::string::npos)
      << refused->message();

  auto created =
      await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", "more", {}, done); });
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code(), ErrorCode::kBrokerDiskLimit);
  ASSERT_TRUE(eventually([&] { return broker_->health().publish_refusal.has_value(); }));
  EXPECT_EQ(broker_->health().degraded.back().component, "limits");
  ASSERT_TRUE(eventually([&] { return events_.count("broker.disk_limit_reached") == 1; }));

  EXPECT_EQ(drain(), stored);  // acks go on at the limit
  ASSERT_TRUE(eventually([&] { return checkpoint().ok() && publish().ok(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(eventually([&] { return !broker_->health().publish_refusal.has_value(); }));
  ASSERT_TRUE(eventually([&] { return events_.count("broker.disk_limit_cleared") == 1; }));
  EXPECT_EQ(events_.count("broker.disk_limit_reached"), 1u);
}

class FakeMemory {
 public:
  MemoryProbe probe() {
    return [this]() -> Result<uint64_t> {
      ++samples_;
      if (failing_.load()) return Error(ErrorCode::kStorageIoError, "cannot read /fake/statm", "fix /proc");
      return bytes_.load();
    };
  }
  void set(uint64_t bytes) { bytes_ = bytes; }
  void fail(bool failing) { failing_ = failing; }
  // Waits until the broker's tick has taken two more samples.
  bool two_more_samples(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const uint64_t seen = samples_.load();
    return eventually([&] { return samples_.load() >= seen + 2; }, timeout);
  }

 private:
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<bool> failing_{false};
};

TEST_F(BrokerLimitsTest, MemoryLimitRefusesAtTheLimitAndClearsFivePercentBelow) {
  FakeMemory memory;
  memory.set(500'000);
  BrokerOptions options;
  options.max_memory_bytes = 1'000'000;
  options.memory_probe = memory.probe();
  start(options);
  ASSERT_TRUE(publish().ok());

  memory.set(1'000'000);
  ASSERT_TRUE(eventually([&] { return broker_->health().publish_refusal.has_value(); }));
  auto refused = publish();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kBrokerMemoryLimit);
  EXPECT_NE(refused.error().message().find("uses 1000000 bytes"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("limits.max_memory_bytes = 1000000"), std::string::npos);
  EXPECT_NE(refused.error().message().find("below 950000 bytes"), std::string::npos);
  EXPECT_EQ(broker_->health().publish_refusal->code(), ErrorCode::kBrokerMemoryLimit);
  EXPECT_EQ(drain(), 1u);  // acks go on

  memory.set(960'000);  // under the limit, above the resume mark: still refused
  ASSERT_TRUE(memory.two_more_samples());
  EXPECT_FALSE(publish().ok());
  memory.fail(true);  // no evidence: the state stands, one event says why
  memory.set(100);
  ASSERT_TRUE(memory.two_more_samples());
  EXPECT_FALSE(publish().ok());
  EXPECT_EQ(events_.count("broker.memory_unreadable"), 1u);

  memory.fail(false);
  ASSERT_TRUE(eventually([&] { return publish().ok(); }));
  ASSERT_TRUE(eventually([&] { return !broker_->health().publish_refusal.has_value(); }));
  EXPECT_EQ(events_.count("broker.memory_limit_reached"), 1u);
  EXPECT_EQ(events_.count("broker.memory_limit_cleared"), 1u);
}

TEST_F(BrokerLimitsTest, LimitsOffByDefaultNeverSampleMemory) {
  FakeMemory memory;
  memory.set(UINT64_MAX);
  BrokerOptions options;
  options.memory_probe = memory.probe();
  start(options);
  EXPECT_FALSE(memory.two_more_samples(std::chrono::milliseconds(300)));  // six ticks
  EXPECT_TRUE(publish().ok());
}

}  // namespace
}  // namespace ballast::broker

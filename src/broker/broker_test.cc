#include <gtest/gtest.h>

#include "broker/broker_test_support.h"
#include "storage/fault_file_system.h"

namespace ballast::broker {
namespace {

using testing::await_call;
using testing::eventually;
using testing::ManualClock;
using testing::TempDir;

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override { broker_.reset(); }

  void start() {
    open_only();
    broker_->run();
  }

  // Opens without running, so that what open() recovered can be read.
  void open_only() {
    auto clock = std::make_unique<ManualClock>();
    clock_ = clock.get();
    BrokerOptions options;
    options.data_dir = (dir_.path() / "data").string();
    options.segment_bytes = 1 << 20;
    options.checkpoint_interval_ms = 3'600'000;
    broker_ =
        std::make_unique<BrokerCore>(options, std::make_unique<storage::PosixFileSystem>(), std::move(clock));
    auto status = broker_->open();
    ASSERT_TRUE(status.ok()) << status.error().describe();
  }

  void restart() {
    broker_.reset();
    start();
  }

  void create(const std::string& name, QueueSettings settings = {}) {
    auto created =
        await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", name, settings, done); });
    ASSERT_TRUE(created.ok()) << created.error().describe();
  }

  Result<PublishOutcome> publish(const std::string& name, std::vector<PublishRequest> messages) {
    return await_call<PublishOutcome>([&](auto done) { broker_->publish("/", name, messages, done); });
  }

  Result<PublishOutcome> publish_body(const std::string& name, const std::string& body,
                                      uint8_t priority = 0) {
    PublishRequest request;
    request.body = body;
    request.priority = priority;
    return publish(name, {request});
  }

  std::vector<DeliveredMessage> receive(const std::string& name, uint32_t max = 10,
                                        std::optional<uint32_t> visibility = std::nullopt) {
    ReceiveRequest request;
    request.max_messages = max;
    request.visibility_timeout_seconds = visibility;
    auto received = await_call<std::vector<DeliveredMessage>>(
        [&](auto done) { broker_->receive("/", name, request, done); });
    EXPECT_TRUE(received.ok());
    return received.ok() ? std::move(*received) : std::vector<DeliveredMessage>{};
  }

  Result<SettleOutcome> ack(const std::string& name, std::vector<std::string> receipts) {
    return await_call<SettleOutcome>([&](auto done) { broker_->ack("/", name, receipts, done); });
  }

  Result<SettleOutcome> nack(const std::string& name, std::vector<std::string> receipts, bool requeue) {
    return await_call<SettleOutcome>([&](auto done) { broker_->nack("/", name, receipts, requeue, done); });
  }

  QueueInfo info(const std::string& name) {
    auto result = await_call<QueueInfo>([&](auto done) { broker_->queue_info("/", name, done); });
    EXPECT_TRUE(result.ok());
    return result.ok() ? *result : QueueInfo{};
  }

  // Ready messages in `name`, or 0 while the queue does not exist (for polling).
  uint64_t ready_or_zero(const std::string& name) {
    auto result = await_call<QueueInfo>([&](auto done) { broker_->queue_info("/", name, done); });
    return result.ok() ? result->stats.messages : 0;
  }

  static std::vector<std::string> bodies(const std::vector<DeliveredMessage>& messages) {
    std::vector<std::string> result;
    for (const auto& message : messages) result.push_back(message.body);
    return result;
  }

  TempDir dir_;
  ManualClock* clock_ = nullptr;
  std::unique_ptr<BrokerCore> broker_;
};

TEST_F(BrokerTest, DeliversByPriorityThenFifo) {
  create("jobs");
  ASSERT_TRUE(publish_body("jobs", "low-1", 1).ok());
  ASSERT_TRUE(publish_body("jobs", "high-1", 9).ok());
  ASSERT_TRUE(publish_body("jobs", "low-2", 1).ok());
  ASSERT_TRUE(publish_body("jobs", "high-2", 9).ok());
  EXPECT_EQ(bodies(receive("jobs")), (std::vector<std::string>{"high-1", "high-2", "low-1", "low-2"}));
}

TEST_F(BrokerTest, AckedMessagesStayGoneAfterRestartAndOthersComeBack) {
  create("jobs");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publish_body("jobs", fmt::format("m{}", i)).ok());
  auto received = receive("jobs", 2);
  ASSERT_EQ(received.size(), 2u);
  ASSERT_TRUE(ack("jobs", {received[0].receipt, received[1].receipt}).ok());
  restart();
  auto again = receive("jobs", 10);
  EXPECT_EQ(bodies(again), (std::vector<std::string>{"m2", "m3", "m4"}));
}

TEST_F(BrokerTest, ExpiredLeaseRedeliversWithTheRedeliveredFlag) {
  create("jobs");
  ASSERT_TRUE(publish_body("jobs", "work").ok());
  auto first = receive("jobs", 1, 5);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].redelivered);
  EXPECT_TRUE(receive("jobs").empty());
  clock_->advance_ms(6000);
  ASSERT_TRUE(eventually([&] { return info("jobs").stats.messages == 1; }));
  auto second = receive("jobs");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(second[0].redelivered);
  EXPECT_EQ(second[0].delivery_count, 2u);
  auto stale = ack("jobs", {first[0].receipt});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code(), ErrorCode::kReceiptInvalid);
  EXPECT_NE(stale.error().message().find(first[0].receipt), std::string::npos);
}

TEST_F(BrokerTest, LeasesAsNumbersSettleLikeReceiptsAndAreCheckedTheSameWay) {
  create("jobs");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(publish_body("jobs", fmt::format("m{}", i)).ok());
  ReceiveRequest request;
  request.max_messages = 3;
  request.receipt_strings = false;
  auto received = await_call<std::vector<DeliveredMessage>>(
      [&](auto done) { broker_->receive("/", "jobs", request, done); });
  ASSERT_TRUE(received.ok());
  ASSERT_EQ(received->size(), 3u);
  EXPECT_TRUE((*received)[0].receipt.empty());
  const LeaseRef first = (*received)[0].lease;
  auto acked = await_call<SettleOutcome>([&](auto done) {
    broker_->ack_leases("/", "jobs", {first, first, (*received)[1].lease}, done);
  });
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->settled, 2u);  // a repeated lease counts once
  auto stale = await_call<SettleOutcome>([&](auto done) { broker_->ack_leases("/", "jobs", {first}, done); });
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code(), ErrorCode::kReceiptInvalid);
  EXPECT_NE(stale.error().message().find(fmt::format("-{:x}-{:x}", first.key, first.nonce)),
            std::string::npos);
  auto returned = await_call<SettleOutcome>(
      [&](auto done) { broker_->nack_leases("/", "jobs", {(*received)[2].lease}, true, done); });
  ASSERT_TRUE(returned.ok());
  auto again = receive("jobs");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, "m2");
  EXPECT_TRUE(again[0].redelivered);
}

TEST_F(BrokerTest, ExtendedLeaseIsNotRedelivered) {
  create("jobs");
  ASSERT_TRUE(publish_body("jobs", "long work").ok());
  auto first = receive("jobs", 1, 5);
  ASSERT_EQ(first.size(), 1u);
  auto extended = await_call<SettleOutcome>(
      [&](auto done) { broker_->extend("/", "jobs", {first[0].receipt}, 60, done); });
  ASSERT_TRUE(extended.ok());
  clock_->advance_ms(10'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // let two ticks pass
  EXPECT_EQ(info("jobs").stats.in_flight, 1u);
  EXPECT_TRUE(ack("jobs", {first[0].receipt}).ok());
}

TEST_F(BrokerTest, DelayedMessageBecomesReadyWhenDue) {
  create("jobs");
  PublishRequest request;
  request.body = "later";
  request.delay_seconds = 30;
  ASSERT_TRUE(publish("jobs", {request}).ok());
  EXPECT_TRUE(receive("jobs").empty());
  EXPECT_EQ(info("jobs").stats.delayed, 1u);
  clock_->advance_ms(31'000);
  ASSERT_TRUE(eventually([&] { return info("jobs").stats.messages == 1; }));
  EXPECT_EQ(bodies(receive("jobs")), std::vector<std::string>{"later"});
}

TEST_F(BrokerTest, QueueTtlExpiresToTheMillisecond) {
  QueueSettings settings;
  settings.message_ttl_ms = 300;
  create("jobs", settings);
  ASSERT_TRUE(publish_body("jobs", "first").ok());
  clock_->advance_ms(299);
  EXPECT_EQ(bodies(receive("jobs")), std::vector<std::string>{"first"}) << "expired before its 300 ms";
  ASSERT_TRUE(publish_body("jobs", "second").ok());
  clock_->advance_ms(300);
  EXPECT_TRUE(receive("jobs").empty()) << "still delivered at its 300th millisecond";
}

TEST_F(BrokerTest, TheShortestOfQueueAndMessageTtlsApplies) {
  QueueSettings settings;
  settings.message_ttl_ms = 5'000;
  create("jobs", settings);
  PublishRequest own_ms;
  own_ms.body = "own-ms";
  own_ms.ttl_ms = 250;
  PublishRequest own_seconds;
  own_seconds.body = "own-seconds";
  own_seconds.ttl_seconds = 1;
  PublishRequest longer;
  longer.body = "queue-ttl";
  longer.ttl_ms = 60'000;
  ASSERT_TRUE(publish("jobs", {own_ms, own_seconds, longer}).ok());
  clock_->advance_ms(250);
  EXPECT_EQ(bodies(receive("jobs", 1)), std::vector<std::string>{"own-seconds"});
  clock_->advance_ms(4'749);
  EXPECT_EQ(bodies(receive("jobs", 1)), std::vector<std::string>{"queue-ttl"});
}

TEST_F(BrokerTest, AMillisecondQueueTtlSurvivesARestart) {
  QueueSettings settings;
  settings.message_ttl_ms = 1'250;
  create("jobs", settings);
  restart();
  EXPECT_EQ(info("jobs").settings.message_ttl_ms, 1'250u);
}

TEST_F(BrokerTest, ExpiredMessageIsDeadLetteredWithItsReason) {
  QueueSettings settings;
  settings.message_ttl_ms = 10'000;
  create("orders", settings);
  ASSERT_TRUE(publish_body("orders", "stale order").ok());
  clock_->advance_ms(11'000);
  // Dead-lettering on expiry is a commit the broker makes by itself: wait for it.
  std::vector<DeliveredMessage> dead;
  ASSERT_TRUE(eventually([&] {
    if (ready_or_zero(std::string(kDeadLetterQueueName)) == 0) return false;
    dead = receive(std::string(kDeadLetterQueueName));
    return dead.size() == 1;
  }));
  EXPECT_EQ(info("orders").stats.messages, 0u);
  EXPECT_EQ(dead[0].body, "stale order");
  const auto& headers = dead[0].properties.headers;
  EXPECT_NE(std::find(headers.begin(), headers.end(),
                      std::pair<std::string, std::string>{"x-death-reason", "expired"}),
            headers.end());
  EXPECT_NE(std::find(headers.begin(), headers.end(),
                      std::pair<std::string, std::string>{"x-death-queue", "orders"}),
            headers.end());
}

TEST_F(BrokerTest, DeliveryLimitDeadLettersToTheConfiguredQueue) {
  QueueSettings settings;
  settings.delivery_limit = 2;
  settings.dead_letter_queue = "poison";
  create("jobs", settings);
  ASSERT_TRUE(publish_body("jobs", "poison pill").ok());
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto received = receive("jobs");
    ASSERT_EQ(received.size(), 1u);
    ASSERT_TRUE(nack("jobs", {received[0].receipt}, true).ok());
  }
  EXPECT_TRUE(receive("jobs").empty());
  // The receive that finds the limit passed dead-letters in a commit of its own: wait for it.
  std::vector<DeliveredMessage> dead;
  ASSERT_TRUE(eventually([&] {
    if (ready_or_zero("poison") == 0) return false;
    dead = receive("poison");
    return dead.size() == 1;
  }));
  const auto& headers = dead[0].properties.headers;
  EXPECT_NE(std::find(headers.begin(), headers.end(),
                      std::pair<std::string, std::string>{"x-death-reason", "delivery_limit"}),
            headers.end());
}

TEST_F(BrokerTest, NackWithoutRequeueDeadLettersAsRejected) {
  create("jobs");
  ASSERT_TRUE(publish_body("jobs", "bad input").ok());
  auto received = receive("jobs");
  ASSERT_TRUE(nack("jobs", {received[0].receipt}, false).ok());
  auto dead = receive(std::string(kDeadLetterQueueName));
  ASSERT_EQ(dead.size(), 1u);
  const auto& headers = dead[0].properties.headers;
  EXPECT_NE(std::find(headers.begin(), headers.end(),
                      std::pair<std::string, std::string>{"x-death-reason", "rejected"}),
            headers.end());
}

TEST_F(BrokerTest, RejectPublishNamesQueueLimitAndKey) {
  QueueSettings settings;
  settings.max_length = 2;
  create("small", settings);
  ASSERT_TRUE(publish_body("small", "1").ok());
  ASSERT_TRUE(publish_body("small", "2").ok());
  auto refused = publish_body("small", "3");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kQueueLimitReached);
  EXPECT_NE(refused.error().message().find("\"small\""), std::string::npos);
  EXPECT_NE(refused.error().message().find("max_length"), std::string::npos);
  EXPECT_EQ(info("small").stats.messages, 2u);
}

TEST_F(BrokerTest, DropHeadDeadLettersTheOldestNeverSilently) {
  QueueSettings settings;
  settings.max_length = 2;
  settings.overflow = Overflow::kDropHead;
  create("small", settings);
  for (const char* body : {"1", "2", "3"}) ASSERT_TRUE(publish_body("small", body).ok());
  EXPECT_EQ(bodies(receive("small")), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(bodies(receive(std::string(kDeadLetterQueueName))), std::vector<std::string>{"1"});
}

TEST_F(BrokerTest, DuplicateIdWithinTheWindowIsNotStoredTwice) {
  QueueSettings settings;
  settings.dedup_window_seconds = 60;
  create("payments", settings);
  PublishRequest request;
  request.id = "payment-42";
  request.body = "charge";
  auto first = publish("payments", {request});
  auto second = publish("payments", {request});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(first->messages[0].duplicate);
  EXPECT_TRUE(second->messages[0].duplicate);
  EXPECT_EQ(info("payments").stats.messages, 1u);
  clock_->advance_ms(61'000);
  auto third = publish("payments", {request});
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->messages[0].duplicate);
}

TEST_F(BrokerTest, SameSettingsAgainIsFineDifferentSettingsNameTheKeys) {
  create("jobs");
  auto again =
      await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", "jobs", {}, done); });
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  QueueSettings different;
  different.max_length = 5;
  auto conflict =
      await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", "jobs", different, done); });
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kQueueExistsDifferent);
  EXPECT_NE(conflict.error().message().find("max_length"), std::string::npos);
}

TEST_F(BrokerTest, BatchPublishIsAllOrNothing) {
  QueueSettings settings;
  settings.max_length = 3;
  create("jobs", settings);
  std::vector<PublishRequest> batch(4);
  for (auto& request : batch) request.body = "x";
  auto refused = publish("jobs", batch);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(info("jobs").stats.messages, 0u);
}

TEST_F(BrokerTest, InvalidQueueNamesAreRefused) {
  for (const std::string& name :
       {std::string(), std::string(256, 'a'), std::string("bad\x01name"), std::string("\xC3")}) {
    auto result =
        await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", name, {}, done); });
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST_F(BrokerTest, TheBrokersPrefixIsReservedButItsDeadLetterQueueCanBeDeclared) {
  auto reserved = await_call<CreateQueueOutcome>(
      [&](auto done) { broker_->create_queue("/", "ballast.held.jobs", {}, done); });
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.error().code(), ErrorCode::kAccessRefused);
  EXPECT_NE(reserved.error().message().find("\"ballast.held.jobs\""), std::string::npos);
  auto dead_letters = await_call<CreateQueueOutcome>(
      [&](auto done) { broker_->create_queue("/", std::string(kDeadLetterQueueName), {}, done); });
  EXPECT_TRUE(dead_letters.ok());
  auto lookalike =
      await_call<CreateQueueOutcome>([&](auto done) { broker_->create_queue("/", "ballastic", {}, done); });
  EXPECT_TRUE(lookalike.ok());
}

TEST_F(BrokerTest, LongPollAnswersWhenAMessageArrives) {
  create("jobs");
  ReceiveRequest request;
  request.wait_ms = 5000;
  auto promise = std::make_shared<std::promise<Result<std::vector<DeliveredMessage>>>>();
  auto future = promise->get_future();
  broker_->receive("/", "jobs", request, [promise](auto result) { promise->set_value(std::move(result)); });
  ASSERT_TRUE(publish_body("jobs", "wake up").ok());
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto received = future.get();
  ASSERT_TRUE(received.ok());
  EXPECT_EQ(bodies(*received), std::vector<std::string>{"wake up"});
}

TEST_F(BrokerTest, MessagesSurviveRestartWithPropertiesIntact) {
  create("jobs");
  PublishRequest request;
  request.id = "order-7";
  request.body = std::string("\x00\x01binary\xFF", 9);
  request.properties.content_type = "application/octet-stream";
  request.properties.correlation_id = "corr-1";
  request.properties.reply_to = "replies";
  request.properties.encoding = BodyEncoding::kBase64;
  request.properties.headers = {{"tenant", "acme"}, {"attempt", "1"}};
  request.priority = 3;
  ASSERT_TRUE(publish("jobs", {request}).ok());
  restart();
  auto received = receive("jobs");
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].id, "order-7");
  EXPECT_EQ(received[0].body, request.body);
  EXPECT_EQ(received[0].properties, request.properties);
  EXPECT_EQ(received[0].priority, 3);
}

TEST_F(BrokerTest, PurgeAndDeleteAreDurable) {
  create("a");
  create("b");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(publish_body("a", "x").ok());
  auto purged = await_call<SettleOutcome>([&](auto done) { broker_->purge_queue("/", "a", done); });
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->settled, 3u);
  auto deleted = await_call<void>([&](auto done) { broker_->delete_queue("/", "b", done); });
  ASSERT_TRUE(deleted.ok());
  restart();
  EXPECT_EQ(info("a").stats.messages, 0u);
  auto missing = await_call<QueueInfo>([&](auto done) { broker_->queue_info("/", "b", done); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kQueueNotFound);
}

TEST_F(BrokerTest, PluginSettingsSurviveRestartsAndCheckpointsAndTheLastStoredWins) {
  const auto store = [&](const std::string& plugin, const std::string& settings) {
    auto stored =
        await_call<void>([&](auto done) { broker_->store_plugin_settings(plugin, settings, done); });
    ASSERT_TRUE(stored.ok()) << stored.error().describe();
  };
  store("spam", "first");
  store("spam", "second");
  store("hook", "kept");
  store("gone", "soon");
  auto checkpointed = await_call<void>([&](auto done) { broker_->checkpoint_now(done); });
  ASSERT_TRUE(checkpointed.ok());
  store("gone", "");          // after the checkpoint: replayed from the journal
  store("late", "replayed");  // likewise
  broker_.reset();
  open_only();
  const std::map<std::string, std::string> expected{
      {"hook", "kept"}, {"late", "replayed"}, {"spam", "second"}};
  EXPECT_EQ(broker_->recovered_plugin_settings(), expected);
  broker_->run();
  // A checkpoint taken now carries them all, and a restart from it alone finds them again.
  checkpointed = await_call<void>([&](auto done) { broker_->checkpoint_now(done); });
  ASSERT_TRUE(checkpointed.ok());
  broker_.reset();
  open_only();
  EXPECT_EQ(broker_->recovered_plugin_settings(), expected);
  broker_->run();
}

TEST_F(BrokerTest, UncleanRestartFlagsRecoveredMessagesRedelivered) {
  create("jobs");
  ASSERT_TRUE(publish_body("jobs", "in flight at the crash").ok());
  ASSERT_EQ(receive("jobs").size(), 1u);
  // A clean stop keeps the delivery count; the message comes back flagged either way.
  restart();
  auto again = receive("jobs");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].redelivered);
}

}  // namespace
}  // namespace ballast::broker

namespace ballast::broker {
namespace {

TEST(BrokerOnAFullDisk, RefusesPublishesKeepsAcksWorkingAndRecoversByItself) {
  TempDir dir;
  storage::FaultFileSystem faults;
  auto owned_clock = std::make_unique<ManualClock>();
  ManualClock* clock = owned_clock.get();
  BrokerOptions options;
  options.data_dir = (dir.path() / "data").string();
  options.segment_bytes = 16 << 10;
  options.reserve_bytes = 64 << 10;
  options.checkpoint_interval_ms = 3'600'000;
  options.file_system = &faults;
  BrokerCore core(options, nullptr, std::move(owned_clock));
  ASSERT_TRUE(core.open().ok());
  core.run();
  ASSERT_TRUE(
      await_call<CreateQueueOutcome>([&](auto done) { core.create_queue("/", "jobs", {}, done); }).ok());
  const auto publish = [&] {
    PublishRequest request;
    request.body = std::string(1000, 'p');
    return await_call<PublishOutcome>([&](auto done) { core.publish("/", "jobs", {request}, done); });
  };
  ASSERT_TRUE(publish().ok());
  ReceiveRequest one;
  auto received =
      await_call<std::vector<DeliveredMessage>>([&](auto done) { core.receive("/", "jobs", one, done); });
  ASSERT_TRUE(received.ok() && received->size() == 1);

  faults.fail_next_call(storage::FaultOp::kAllocate, ENOSPC);
  std::optional<Error> refused;
  for (int i = 0; i < 100 && !refused; ++i) {
    auto result = publish();
    if (!result.ok()) refused = result.error();
  }
  ASSERT_TRUE(refused.has_value()) << "the disk never filled";
  EXPECT_EQ(refused->code(), ErrorCode::kStorageFull);
  EXPECT_NE(refused->message().find("storage.reserve_bytes"), std::string::npos) << refused->message();
  auto acked =
      await_call<SettleOutcome>([&](auto done) { core.ack("/", "jobs", {received->front().receipt}, done); });
  EXPECT_TRUE(acked.ok()) << acked.error().describe();
  ASSERT_TRUE(eventually([&] { return !core.health().degraded.empty(); }));  // refreshed by the tick
  EXPECT_EQ(core.health().degraded.front().code, ErrorCode::kStorageFull);

  clock->advance_ms(2000);  // the next reserve attempt is due; the fault is gone
  EXPECT_TRUE(eventually([&] { return publish().ok(); }));
  EXPECT_TRUE(eventually([&] { return core.health().degraded.empty(); }));
}

TEST(BrokerDedupWindow, APublishWhoseCommitFailedIsNoDuplicateWhenRetried) {
  TempDir dir;
  storage::FaultFileSystem faults;
  BrokerOptions options;
  options.data_dir = (dir.path() / "data").string();
  options.segment_bytes = 1 << 20;
  options.checkpoint_interval_ms = 3'600'000;
  options.self_check_interval_ms = 20;  // the journal repairs itself at the next passing check
  options.file_system = &faults;
  BrokerCore core(options, nullptr, std::make_unique<ManualClock>());
  ASSERT_TRUE(core.open().ok());
  core.run();
  QueueSettings settings;
  settings.dedup_window_seconds = 60;
  ASSERT_TRUE(await_call<CreateQueueOutcome>([&](auto done) {
                core.create_queue("/", "orders", settings, done);
              }).ok());
  const auto publish = [&] {
    PublishRequest request;
    request.id = "order-1";
    request.body = "one";
    return await_call<PublishOutcome>([&](auto done) { core.publish("/", "orders", {request}, done); });
  };
  // A standing fault on the segments only: the self-check's probe file must not take it.
  faults.set_rules({storage::FaultRule{storage::FaultOp::kSync, "*.seg", EIO}});
  auto failed = publish();
  faults.set_rules({});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kStorageIoError);
  std::optional<PublishOutcome> retried;
  ASSERT_TRUE(eventually([&] {
    auto result = publish();
    if (result.ok()) retried = *result;
    return result.ok();
  }));
  ASSERT_EQ(retried->messages.size(), 1u);
  EXPECT_FALSE(retried->messages[0].duplicate) << "the retry of a failed publish was taken for a duplicate";
  auto stored =
      await_call<std::vector<DeliveredMessage>>([&](auto done) { core.peek("/", "orders", 10, done); });
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 1u);
}

}  // namespace
}  // namespace ballast::broker

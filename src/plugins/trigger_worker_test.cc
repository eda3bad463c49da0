// Triggers with a real broker (a journal in a temporary directory) and a real plug-in process
// (tests/e2e/plugins/scripted_trigger.py): work items commit with their message and name its
// queue; the worker settles done, retries with back-off, dead-letters failed and exhausted
// items with the reason, and takes nothing while it is not running.
#include "plugins/trigger_worker.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <mutex>

#include "broker/broker_test_support.h"
#include "plugins/host_with_broker_test.h"
#include "util/log.h"

namespace ballast::plugins {
namespace {

using namespace std::chrono_literals;
using broker::testing::await_call;
using broker::testing::eventually;

const std::string kSourceDir = BALLAST_SOURCE_DIR;

std::string header(const broker::DeliveredMessage& message, std::string_view key) {
  for (const auto& [name, value] : message.properties.headers) {
    if (name == key) return value;
  }
  return {};
}

// The plugin.trigger_dead_lettered lines of the event log while it lives.
class DeadLetterEvents {
 public:
  DeadLetterEvents() {
    log::set_sink([this](std::string_view line) {
      if (line.find("event=plugin.trigger_dead_lettered") == std::string_view::npos) return;
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~DeadLetterEvents() { log::set_sink({}); }
  std::string about(const std::string& message_id) {
    std::lock_guard lock(mu_);
    for (const std::string& line : lines_) {
      if (line.find("message_id=" + message_id) != std::string::npos) return line;
    }
    return {};
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class TriggerWorkerTest : public testing::HostWithBrokerTest {
 protected:
  void start(bool run_workers) {
    PluginConfig config;
    config.name = "scripted";
    config.kind = "trigger";
    config.command = {"/usr/bin/python3", kSourceDir + "/tests/e2e/plugins/scripted_trigger.py"};
    config.queues = {"orders"};
    config.retry = TriggerRetry{20, 80, 3, 4};
    config.timings.stop_grace_ms = 500;
    start_host({config}, run_workers);
    for (const char* name : {"orders", "plain"}) {
      auto created = await_call<broker::CreateQueueOutcome>(
          [&](auto done) { broker_->create_queue("/", name, {}, done); });
      ASSERT_TRUE(created.ok()) << created.error().describe();
    }
  }

  std::vector<std::string> publish(const std::string& queue, std::vector<std::string> bodies) {
    std::vector<broker::PublishRequest> messages;
    for (std::string& body : bodies) {
      broker::PublishRequest request;
      request.body = std::move(body);
      messages.push_back(std::move(request));
    }
    auto published =
        await_call<broker::PublishOutcome>([&](auto done) { broker_->publish("/", queue, messages, done); });
    EXPECT_TRUE(published.ok()) << published.error().describe();
    std::vector<std::string> ids;
    if (published.ok()) {
      for (const auto& message : published->messages) ids.push_back(message.id);
    }
    return ids;
  }

  std::vector<broker::DeliveredMessage> peek(const std::string& queue) {
    auto peeked = await_call<std::vector<broker::DeliveredMessage>>(
        [&](auto done) { broker_->peek("/", queue, 100, done); });
    return peeked.ok() ? std::move(*peeked) : std::vector<broker::DeliveredMessage>{};
  }

  uint64_t pending(const std::string& queue) {
    auto info = await_call<broker::QueueInfo>([&](auto done) { broker_->queue_info("/", queue, done); });
    return info.ok() ? info->stats.messages + info->stats.in_flight + info->stats.delayed : 0;
  }

  TriggerCounters counters() {
    auto all = host_.list();
    return all.empty() || !all.front().trigger ? TriggerCounters{} : *all.front().trigger;
  }
};

TEST_F(TriggerWorkerTest, AWorkItemCommitsWithItsMessageAndNamesItsQueue) {
  start(false);
  const auto ids = publish("orders", {"first", "second"});
  publish("plain", {"untriggered"});
  // A routed (AMQP) publish through the default exchange brings its work item too.
  broker::PublishRequest routed;
  routed.body = "routed";
  auto results = await_call<std::vector<broker::RouteResult>>([&](auto done) {
    broker_->publish_routed("/", {broker::RoutedMessage{"", "orders", {}, routed}}, done);
  });
  ASSERT_TRUE(results.ok()) << results.error().describe();
  const auto work = peek("ballast.trigger.scripted");
  ASSERT_EQ(work.size(), 3u);
  EXPECT_EQ(work[2].body, "routed");
  EXPECT_EQ(header(work[2], broker::kTriggerQueueHeader), "orders");
  EXPECT_EQ(work[0].id, ids[0]);
  EXPECT_EQ(work[0].body, "first");
  EXPECT_EQ(header(work[0], broker::kTriggerQueueHeader), "orders");
  EXPECT_EQ(header(work[0], broker::kTriggerVhostHeader), "/");
  EXPECT_EQ(work[1].body, "second");
  EXPECT_EQ(peek("orders").size(), 3u);
  EXPECT_TRUE(host_.triggers("/", "plain").empty());
  EXPECT_EQ(host_.triggers("/", "orders"), std::vector<std::string>{"scripted"});
}

TEST_F(TriggerWorkerTest, OutcomesSettleRetryWithBackOffAndDeadLetterWithTheReason) {
  DeadLetterEvents events;
  start(true);
  const auto ids = publish("orders", {"ok-1", "fail-1", "retry-always", "flaky-2"});
  ASSERT_TRUE(eventually([&] { return counters().done == 2 && counters().dead_lettered == 2; }, 20s))
      << counters().done << " done, " << counters().dead_lettered << " dead-lettered";
  // flaky-2 once, retry-always twice (attempts 1 and 2; the third gives up).
  EXPECT_EQ(counters().retries, 3u);
  EXPECT_TRUE(eventually([&] { return pending("ballast.trigger.scripted") == 0; }, 5s));
  EXPECT_EQ(counters().in_hand, 0u);
  // The counters move when the settlement is sent; the dead letters land once it is durable.
  ASSERT_TRUE(eventually([&] { return peek("ballast.dead-letter").size() == 2; }, 5s));
  std::map<std::string, std::string> reasons;
  for (const auto& dead : peek("ballast.dead-letter")) reasons[dead.body] = header(dead, "x-death-reason");
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons["fail-1"].find("trigger plug-in \"scripted\" failed on attempt 1: told to fail"),
            std::string::npos)
      << reasons["fail-1"];
  EXPECT_NE(
      reasons["retry-always"].find("gave up after 3 attempts (max_attempts = 3); the last: told to retry "
                                   "(attempt 3)"),
      std::string::npos)
      << reasons["retry-always"];
  // A refusal is the plug-in's verdict; running out of attempts is its unavailability.
  ASSERT_TRUE(eventually([&] { return !events.about(ids[1]).empty() && !events.about(ids[2]).empty(); }, 5s));
  EXPECT_NE(events.about(ids[1]).find("code=PLUGIN_REJECTED"), std::string::npos) << events.about(ids[1]);
  EXPECT_NE(events.about(ids[2]).find("code=PLUGIN_UNAVAILABLE"), std::string::npos) << events.about(ids[2]);
  // The stored messages themselves are the consumers' business, untouched by their triggers.
  EXPECT_EQ(peek("orders").size(), 4u);
}

}  // namespace
}  // namespace ballast::plugins

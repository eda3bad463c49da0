// The plug-in host with real plug-in processes: the example filter and the misbehaving plug-ins
// of tests/e2e/plugins/ (python3, standard library). Proves R5: whatever a plug-in does, every
// call is answered within its deadline plus a margin, with the plug-in's verdict or the
// attachment policy's, events name the plug-in and the cause, and the plug-in is restarted with
// back-off until its circuit breaker opens.
#include "plugins/plugin_host.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "util/log.h"

namespace ballast::plugins {
namespace {

using namespace std::chrono_literals;
using Verdicts = std::vector<broker::FilterVerdict>;

const std::string kSourceDir = BALLAST_SOURCE_DIR;

// Collects the event log's lines; waits for one that contains every given fragment.
class EventCapture {
 public:
  EventCapture() {
    log::set_sink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
      changed_.notify_all();
    });
  }
  ~EventCapture() { log::set_sink({}); }

  bool wait_for(const std::vector<std::string>& fragments, std::chrono::milliseconds timeout,
                size_t occurrences = 1) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return count_locked(fragments) >= occurrences; });
  }
  size_t count(const std::vector<std::string>& fragments) {
    std::lock_guard lock(mu_);
    return count_locked(fragments);
  }
  std::string dump() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const auto& line : lines_) all += line + "\n";
    return all;
  }

 private:
  size_t count_locked(const std::vector<std::string>& fragments) const {
    size_t found = 0;
    for (const auto& line : lines_) {
      bool all = true;
      for (const auto& fragment : fragments) all = all && line.find(fragment) != std::string::npos;
      found += all ? 1 : 0;
    }
    return found;
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

PluginConfig python_plugin(const std::string& name, const std::string& script, FilterPolicy policy) {
  PluginConfig config;
  config.name = name;
  config.command = {"/usr/bin/python3", script};
  config.queues = {"q." + name};
  config.policy = policy;
  config.call_timeout_ms = 300;
  config.handshake_timeout_ms = 5000;
  config.ping_interval_ms = 200;
  config.timings.backoff_initial_ms = 50;
  config.timings.backoff_max_ms = 400;
  config.timings.circuit_open_ms = 1500;
  config.timings.stop_grace_ms = 500;
  return config;
}

std::string test_plugin(const std::string& file) {
  return kSourceDir + "/tests/e2e/plugins/" + file;
}

broker::PublishRequest message(const std::string& body,
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  broker::PublishRequest request;
  request.body = body;
  request.properties.headers = std::move(headers);
  return request;
}

class PluginHostTest : public ::testing::Test {
 protected:
  void SetUp() override { ::signal(SIGPIPE, SIG_IGN); }

  void start(std::vector<PluginConfig> configs) {
    auto started = host_.start(std::move(configs));
    ASSERT_TRUE(started.ok()) << started.error().describe();
  }

  // Filters `messages` and waits for the answer; fails the test when it takes longer than
  // `limit` (the deadline plus a margin).
  Verdicts call(const std::string& queue, std::vector<broker::PublishRequest> messages,
                std::chrono::milliseconds limit = 3000ms) {
    auto promise = std::make_shared<std::promise<Verdicts>>();
    auto answered = promise->get_future();
    const auto began = std::chrono::steady_clock::now();
    host_.filter("/", queue, std::move(messages),
                 [promise](Verdicts verdicts) { promise->set_value(std::move(verdicts)); });
    if (answered.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "no answer for queue " << queue << " within " << limit.count() << " ms\n"
                    << events_.dump();
      return {};
    }
    last_call_ms_ =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    return answered.get();
  }

  void wait_available(const std::string& queue, std::chrono::milliseconds timeout = 10000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!host_.available("/", queue) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);  // polling a condition with a deadline
    }
    ASSERT_TRUE(host_.available("/", queue)) << events_.dump();
  }

  EventCapture events_;
  SystemClock clock_;
  PluginHost host_{clock_};
  std::chrono::milliseconds last_call_ms_{0};
};

TEST_F(PluginHostTest, TheExampleFilterAcceptsRejectsReroutesAndModifies) {
  PluginConfig config =
      python_plugin("example", kSourceDir + "/examples/plugins/python_filter.py", FilterPolicy::kReject);
  config.options = {{"reject_word", "viagra"}, {"reroute_header", "x-route"}};
  config.call_timeout_ms = 3000;  // pings every 200 ms, each answered in time even on a loaded machine
  start({config});
  EXPECT_TRUE(host_.filters("/", "q.example"));
  EXPECT_FALSE(host_.filters("/", "other"));
  EXPECT_FALSE(host_.filters("other-vhost", "q.example"));
  EXPECT_TRUE(host_.filters_any("/"));
  wait_available("q.example");

  Verdicts verdicts =
      call("q.example", {message("hello"), message("cheap VIAGRA"), message("x", {{"x-route", "spam"}})});
  ASSERT_EQ(verdicts.size(), 3u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kAccept);
  EXPECT_EQ(verdicts[0].message.body, "hello");
  EXPECT_EQ(verdicts[1].action, broker::FilterAction::kRefuse);
  ASSERT_TRUE(verdicts[1].refusal.has_value());
  EXPECT_EQ(verdicts[1].refusal->code(), ErrorCode::kPluginRejected);
  EXPECT_NE(verdicts[1].refusal->message().find("'viagra'"), std::string::npos)
      << verdicts[1].refusal->message();
  EXPECT_EQ(verdicts[2].action, broker::FilterAction::kReroute);
  EXPECT_EQ(verdicts[2].queue, "spam");
  EXPECT_TRUE(events_.wait_for({"event=plugin.ready", "plugin=example", "version=1.0.0"}, 1000ms));
  EXPECT_TRUE(
      events_.wait_for({"event=plugin.stderr", "plugin=example", "python_filter 1.0.0 ready"}, 5000ms));
  // Pings keep flowing and are answered: it stays up.
  std::this_thread::sleep_for(600ms);  // three ping intervals, to prove no restart happens
  EXPECT_EQ(events_.count({"event=plugin.started", "plugin=example"}), 1u) << events_.dump();
  EXPECT_TRUE(host_.available("/", "q.example"));
}

TEST_F(PluginHostTest, AModifyVerdictChangesTheHeaders) {
  PluginConfig config =
      python_plugin("tagger", kSourceDir + "/examples/plugins/python_filter.py", FilterPolicy::kHold);
  config.options = {{"tag", "checked"}};
  start({config});
  wait_available("q.tagger");
  Verdicts verdicts = call("q.tagger", {message("body", {{"a", "1"}})});
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kAccept);
  const auto& headers = verdicts[0].message.properties.headers;
  EXPECT_NE(std::find(headers.begin(), headers.end(),
                      std::pair<std::string, std::string>{"x-filter-tag", "checked"}),
            headers.end());
}

TEST_F(PluginHostTest, AHandshakeThatHangsIsRestartedWithBackOffUntilTheCircuitOpens) {
  PluginConfig config = python_plugin("hang", test_plugin("hang_in_handshake.py"), FilterPolicy::kReject);
  config.handshake_timeout_ms = 150;
  start({config});
  // While it starts, calls are answered at once with the policy's verdict.
  Verdicts verdicts = call("q.hang", {message("m")}, 500ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kRefuse);
  ASSERT_TRUE(verdicts[0].refusal.has_value());
  EXPECT_EQ(verdicts[0].refusal->code(), ErrorCode::kPluginUnavailable);
  EXPECT_NE(verdicts[0].refusal->message().find("\"hang\""), std::string::npos);
  EXPECT_NE(verdicts[0].refusal->message().find("q.hang"), std::string::npos);

  ASSERT_TRUE(events_.wait_for({"event=plugin.handshake_failed", "plugin=hang", "handshake_timeout_ms = 150"},
                               5000ms))
      << events_.dump();
  ASSERT_TRUE(events_.wait_for({"event=plugin.restarting", "plugin=hang", "delay_ms=50"}, 5000ms))
      << events_.dump();
  ASSERT_TRUE(events_.wait_for({"event=plugin.restarting", "plugin=hang", "delay_ms=100"}, 5000ms))
      << events_.dump();
  ASSERT_TRUE(events_.wait_for({"event=plugin.circuit_open", "plugin=hang", "failures_in_a_row=5"}, 10000ms))
      << events_.dump();
  verdicts = call("q.hang", {message("m")}, 500ms);
  ASSERT_EQ(verdicts.size(), 1u);
  ASSERT_TRUE(verdicts[0].refusal.has_value());
  EXPECT_NE(verdicts[0].refusal->message().find("circuit breaker"), std::string::npos)
      << verdicts[0].refusal->message();
  EXPECT_NE(verdicts[0].refusal->message().find("next try in"), std::string::npos);
  // The breaker allows one try after circuit_open_ms; it fails again and the breaker reopens.
  ASSERT_TRUE(events_.wait_for({"event=plugin.circuit_open", "plugin=hang", "failures_in_a_row=6"}, 10000ms))
      << events_.dump();
}

TEST_F(PluginHostTest, APluginThatCrashesOnEveryMessageCostsOnlyItsMessagesWhichBypassIt) {
  PluginConfig crasher = python_plugin("crasher", test_plugin("crash_on_message.py"), FilterPolicy::kBypass);
  crasher.call_timeout_ms = 3000;
  crasher.ping_interval_ms = 60000;  // its only failure is the crash
  PluginConfig healthy =
      python_plugin("healthy", kSourceDir + "/examples/plugins/python_filter.py", FilterPolicy::kReject);
  healthy.call_timeout_ms = 3000;
  start({crasher, healthy});
  wait_available("q.healthy");
  for (int crash = 1; crash <= 5; ++crash) {
    wait_available("q.crasher");
    Verdicts verdicts = call("q.crasher", {message("boom")}, 3000ms + 2000ms);
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].action, broker::FilterAction::kBypass);
    EXPECT_EQ(verdicts[0].bypass_header.rfind("crasher: ", 0), 0u) << verdicts[0].bypass_header;
    EXPECT_EQ(verdicts[0].message.body, "boom");
    ASSERT_TRUE(
        events_.wait_for({"event=plugin.exited", "plugin=crasher", "exited with status 3"}, 5000ms, crash))
        << events_.dump();
    // The other plug-in is untouched.
    Verdicts other = call("q.healthy", {message("fine")}, 3000ms + 2000ms);
    ASSERT_EQ(other.size(), 1u);
    EXPECT_EQ(other[0].action, broker::FilterAction::kAccept);
  }
  EXPECT_TRUE(events_.wait_for({"event=plugin.stderr", "plugin=crasher", "crashing on call"}, 5000ms))
      << events_.dump();
  EXPECT_TRUE(events_.wait_for({"event=plugin.circuit_open", "plugin=crasher"}, 5000ms)) << events_.dump();
  EXPECT_EQ(events_.count({"event=plugin.started", "plugin=healthy"}), 1u);
}

TEST_F(PluginHostTest, ACallSlowerThanItsDeadlineGetsThePolicyVerdictInTime) {
  PluginConfig config = python_plugin("slow", test_plugin("slow_filter.py"), FilterPolicy::kHold);
  config.options = {{"delay_ms", "1500"}};
  config.ping_interval_ms = 5000;
  start({config});
  wait_available("q.slow");
  Verdicts verdicts = call("q.slow", {message("a"), message("b")}, 300ms + 700ms);
  ASSERT_EQ(verdicts.size(), 2u);
  for (const auto& verdict : verdicts) EXPECT_EQ(verdict.action, broker::FilterAction::kHold);
  EXPECT_EQ(verdicts[1].message.body, "b");
  EXPECT_GE(last_call_ms_.count(), 250);
  EXPECT_TRUE(
      events_.wait_for({"event=plugin.slow", "plugin=slow", "queue=q.slow", "call_timeout_ms=300"}, 1000ms))
      << events_.dump();
}

TEST_F(PluginHostTest, ASlowPluginMissesItsPingAndIsRestartedAsHung) {
  PluginConfig config = python_plugin("sleepy", test_plugin("slow_filter.py"), FilterPolicy::kBypass);
  config.options = {{"delay_ms", "3000"}};
  start({config});
  wait_available("q.sleepy");
  Verdicts verdicts = call("q.sleepy", {message("a")}, 300ms + 700ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kBypass);
  EXPECT_NE(verdicts[0].bypass_header.find("call_timeout_ms = 300"), std::string::npos)
      << verdicts[0].bypass_header;
  ASSERT_TRUE(events_.wait_for({"event=plugin.hung", "plugin=sleepy", "did not answer ping"}, 5000ms))
      << events_.dump();
  ASSERT_TRUE(events_.wait_for({"event=plugin.ready", "plugin=sleepy"}, 5000ms, 2)) << events_.dump();
}

TEST_F(PluginHostTest, GarbageFramesAreAProtocolErrorAndThePluginIsRestarted) {
  for (const std::string garbage : {"json", "length"}) {
    SCOPED_TRACE(garbage);
    PluginHost host(clock_);
    PluginConfig config =
        python_plugin("garbage-" + garbage, test_plugin("garbage_frames.py"), FilterPolicy::kReject);
    config.options = {{"garbage", garbage}};
    config.call_timeout_ms = 3000;  // the garbage, not the deadline, must end the call
    ASSERT_TRUE(host.start({config}).ok());
    const std::string queue = "q.garbage-" + garbage;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!host.available("/", queue) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(host.available("/", queue));
    std::promise<Verdicts> answered;
    host.filter("/", queue, {message("m")},
                [&](Verdicts verdicts) { answered.set_value(std::move(verdicts)); });
    auto future = answered.get_future();
    ASSERT_EQ(future.wait_for(3000ms + 2000ms), std::future_status::ready);
    Verdicts verdicts = future.get();
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].action, broker::FilterAction::kRefuse);
    ASSERT_TRUE(verdicts[0].refusal.has_value());
    EXPECT_NE(verdicts[0].refusal->message().find("broke the protocol"), std::string::npos)
        << verdicts[0].refusal->message();
    EXPECT_TRUE(
        events_.wait_for({"event=plugin.protocol_error", "plugin=garbage-" + garbage, "first bytes"}, 1000ms))
        << events_.dump();
    EXPECT_TRUE(events_.wait_for({"event=plugin.ready", "plugin=garbage-" + garbage}, 5000ms, 2))
        << events_.dump();
    host.stop();
  }
}

TEST_F(PluginHostTest, AMissingExecutableNamesThePathAndIsRetried) {
  PluginConfig config = python_plugin("ghost", "unused", FilterPolicy::kReject);
  config.command = {"/nonexistent/ghost-filter"};
  start({config});
  ASSERT_TRUE(events_.wait_for(
      {"event=plugin.start_failed", "plugin=ghost", "/nonexistent/ghost-filter", "uid "}, 5000ms))
      << events_.dump();
  ASSERT_TRUE(events_.wait_for({"event=plugin.start_failed", "plugin=ghost"}, 5000ms, 2)) << events_.dump();
  Verdicts verdicts = call("q.ghost", {message("m")}, 500ms);
  ASSERT_EQ(verdicts.size(), 1u);
  ASSERT_TRUE(verdicts[0].refusal.has_value());
  EXPECT_NE(verdicts[0].refusal->message().find("/nonexistent/ghost-filter"), std::string::npos)
      << verdicts[0].refusal->message();
}

TEST_F(PluginHostTest, StopAnswersPendingCallsAndEndsEveryProcess) {
  PluginConfig config = python_plugin("stopper", test_plugin("slow_filter.py"), FilterPolicy::kReject);
  config.call_timeout_ms = 20000;
  config.ping_interval_ms = 60000;
  config.options = {{"delay_ms", "30000"}};
  start({config});
  wait_available("q.stopper");
  auto promise = std::make_shared<std::promise<Verdicts>>();
  auto answered = promise->get_future();
  host_.filter("/", "q.stopper", {message("m")},
               [promise](Verdicts verdicts) { promise->set_value(std::move(verdicts)); });
  const auto began = std::chrono::steady_clock::now();
  host_.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3000ms);
  ASSERT_EQ(answered.wait_for(0ms), std::future_status::ready);
  Verdicts verdicts = answered.get();
  ASSERT_EQ(verdicts.size(), 1u);
  ASSERT_TRUE(verdicts[0].refusal.has_value());
  EXPECT_NE(verdicts[0].refusal->message().find("shutting down"), std::string::npos);
  EXPECT_TRUE(events_.wait_for({"event=plugin.stopped", "plugin=stopper"}, 0ms)) << events_.dump();
  // After stop, calls are answered at once by the policy.
  verdicts = call("q.stopper", {message("late")}, 100ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kRefuse);
}

TEST_F(PluginHostTest, AQueueWithTwoFiltersIsRefused) {
  PluginConfig first = python_plugin("first", "unused", FilterPolicy::kReject);
  PluginConfig second = python_plugin("second", "unused", FilterPolicy::kReject);
  second.queues = first.queues;
  auto started = host_.start({first, second});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kConfigInvalid);
  EXPECT_NE(started.error().message().find("\"first\" and \"second\""), std::string::npos);
}

}  // namespace
}  // namespace ballast::plugins

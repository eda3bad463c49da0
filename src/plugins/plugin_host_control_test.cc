// Run-time changes through the plug-in host's PluginControl, with a real broker (a journal in a
// temporary directory) and a real plug-in process (tests/e2e/plugins/moody_filter.py, whose
// behaviour a file sets at each start): a reload lets the replaced process answer the call it
// holds; a reload whose new process fails keeps the old one; attach, detach, disable and enable
// change what the broker's thread reads, and are refused with R1 errors when wrong.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "plugins/host_with_broker_test.h"

namespace ballast::plugins {
namespace {

using namespace std::chrono_literals;

const std::string kSourceDir = BALLAST_SOURCE_DIR;

class PluginControlTest : public testing::HostWithBrokerTest {
 protected:
  void set_mode(const std::string& mode) { std::ofstream(mode_file()) << mode; }
  std::string mode_file() const { return (dir_.path() / "moody.mode").string(); }

  PluginConfig moody_config(uint32_t call_timeout_ms) const {
    PluginConfig config;
    config.name = "moody";
    config.command = {"/usr/bin/python3", kSourceDir + "/tests/e2e/plugins/moody_filter.py", mode_file()};
    config.queues = {"mail"};
    config.policy = FilterPolicy::kReject;
    config.call_timeout_ms = call_timeout_ms;
    config.handshake_timeout_ms = 3000;
    config.timings.stop_grace_ms = 500;
    return config;
  }

  void start(const std::string& mode, uint32_t call_timeout_ms = 1000) {
    set_mode(mode);
    start_host({moody_config(call_timeout_ms)});
  }

  Result<PluginView> change(const std::function<void(PluginControl::ViewCallback)>& call) {
    std::promise<Result<PluginView>> answered;
    auto future = answered.get_future();
    call([&answered](Result<PluginView> view) { answered.set_value(std::move(view)); });
    if (future.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "no answer within 20 s";
      return Error(ErrorCode::kShuttingDown, "timed out", "");
    }
    return future.get();
  }

  PluginView view() {
    auto shown = host_.show("moody");
    EXPECT_TRUE(shown.ok());
    return shown.ok() ? *shown : PluginView{};
  }

  void wait_ready() {
    ASSERT_TRUE(broker::testing::eventually([&] { return view().run.state == "ready"; }, 10000ms))
        << view().run.state << ": " << view().run.reason;
  }

  std::future<std::vector<broker::FilterVerdict>> filter(const std::string& queue, const std::string& body) {
    auto promise = std::make_shared<std::promise<std::vector<broker::FilterVerdict>>>();
    auto future = promise->get_future();
    broker::PublishRequest request;
    request.body = body;
    host_.filter("/", queue, {request}, [promise](std::vector<broker::FilterVerdict> verdicts) {
      promise->set_value(std::move(verdicts));
    });
    return future;
  }
};

TEST_F(PluginControlTest, AReloadSwitchesToANewProcessAndTheOldOneAnswersTheCallItHolds) {
  start("slow", /*call_timeout_ms=*/8000);  // slow: every verdict after 3 s
  wait_ready();
  const int old_pid = view().run.pid;
  auto in_flight = filter("mail", "sent before the reload");
  auto reloaded = change([&](auto done) { host_.reload("moody", done); });
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().describe();
  EXPECT_NE(reloaded->run.pid, old_pid);
  EXPECT_EQ(reloaded->run.state, "ready");
  EXPECT_EQ(reloaded->run.reloads, 1u);
  ASSERT_EQ(in_flight.wait_for(10s), std::future_status::ready);
  auto verdicts = in_flight.get();
  ASSERT_EQ(verdicts.size(), 1u);
  // The replaced process's own verdict, not the policy's (reject).
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kAccept);
  EXPECT_EQ(verdicts[0].message.body, "sent before the reload [filtered]");
}

TEST_F(PluginControlTest, ReloadsFasterThanTheDrainsLetEveryReplacedProcessAnswerItsOwnCalls) {
  start("slow", /*call_timeout_ms=*/8000);
  wait_ready();
  auto first = filter("mail", "to the first process");
  ASSERT_TRUE(change([&](auto done) { host_.reload("moody", done); }).ok());
  auto second = filter("mail", "to the second process");
  ASSERT_TRUE(change([&](auto done) { host_.reload("moody", done); }).ok());
  EXPECT_EQ(view().run.reloads, 2u);
  for (auto* call : {&first, &second}) {
    ASSERT_EQ(call->wait_for(10s), std::future_status::ready);
    auto verdicts = call->get();
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].action, broker::FilterAction::kAccept) << "answered by the policy, not the plug-in";
    EXPECT_NE(verdicts[0].message.body.find("[filtered]"), std::string::npos) << verdicts[0].message.body;
  }
}

TEST_F(PluginControlTest, ANewProcessThatDiesWhileTheOldOneDrainsLeavesTheOldOnesCallsToIt) {
  start("slow", /*call_timeout_ms=*/8000);
  wait_ready();
  auto in_flight = filter("mail", "held by the old process");
  auto reloaded = change([&](auto done) { host_.reload("moody", done); });
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().describe();
  ASSERT_EQ(::kill(reloaded->run.pid, SIGKILL), 0);
  ASSERT_EQ(in_flight.wait_for(10s), std::future_status::ready);
  auto verdicts = in_flight.get();
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kAccept)
      << "answered by the policy, not the old process";
  EXPECT_EQ(verdicts[0].message.body, "held by the old process [filtered]");
}

TEST_F(PluginControlTest, APluginDisabledBeforeARestartStartsDisabledWithoutAProcess) {
  set_mode("ok");
  PluginOverlay disabled;
  disabled.disabled = true;
  start_host({moody_config(1000)}, true, {{"moody", encode_overlay(disabled)}});
  ASSERT_TRUE(broker::testing::eventually([&] { return view().run.state == "disabled"; }, 5000ms));
  const PluginView shown = view();
  EXPECT_EQ(shown.run.state, "disabled");
  EXPECT_EQ(shown.run.pid, 0);
  EXPECT_NE(shown.run.reason.find("'ballast plugin enable moody'"), std::string::npos) << shown.run.reason;
  ASSERT_TRUE(change([&](auto done) { host_.enable("moody", done); }).ok());
  wait_ready();
}

TEST_F(PluginControlTest, AReloadWhoseNewProcessFailsKeepsTheOldOneServing) {
  start("ok");
  wait_ready();
  const int serving = view().run.pid;
  set_mode("exit");
  auto failed = change([&](auto done) { host_.reload("moody", done); });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kPluginUnavailable);
  EXPECT_NE(failed.error().message().find("exited with status 4 before its hello"), std::string::npos)
      << failed.error().message();
  EXPECT_NE(failed.error().message().find(fmt::format("the running process {} keeps serving", serving)),
            std::string::npos)
      << failed.error().message();
  EXPECT_EQ(view().run.pid, serving);
  auto verdicts = filter("mail", "still filtered").get();
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].message.body, "still filtered [filtered]");
}

TEST_F(PluginControlTest, AttachDetachDisableAndEnableChangeWhatTheBrokerReads) {
  start("ok");
  wait_ready();
  EXPECT_FALSE(host_.filters("/", "orders"));
  auto attached = change([&](auto done) { host_.attach("moody", "orders", "bypass", done); });
  ASSERT_TRUE(attached.ok()) << attached.error().describe();
  EXPECT_TRUE(host_.filters("/", "orders"));
  ASSERT_EQ(attached->attachments.size(), 2u);
  EXPECT_EQ(attached->attachments[1].queue, "orders");
  EXPECT_EQ(attached->attachments[1].policy, "bypass");
  EXPECT_EQ(attached->attachments[1].source, "runtime");

  auto detached = change([&](auto done) { host_.detach("moody", "mail", done); });
  ASSERT_TRUE(detached.ok()) << detached.error().describe();
  EXPECT_FALSE(host_.filters("/", "mail"));

  auto disabled = change([&](auto done) { host_.disable("moody", done); });
  ASSERT_TRUE(disabled.ok());
  EXPECT_EQ(disabled->run.state, "disabled");
  auto verdicts = filter("orders", "while disabled").get();
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].action, broker::FilterAction::kBypass);
  EXPECT_NE(verdicts[0].bypass_header.find("disabled by the operator"), std::string::npos)
      << verdicts[0].bypass_header;

  ASSERT_TRUE(change([&](auto done) { host_.enable("moody", done); }).ok());
  wait_ready();
  EXPECT_EQ(filter("orders", "again").get()[0].message.body, "again [filtered]");
}

TEST_F(PluginControlTest, WrongChangesAreRefusedNamingTheObjectAndChangeNothing) {
  start("ok");
  auto unknown = change([&](auto done) { host_.attach("mooddy", "x", "", done); });
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().fix().find("did you mean \"moody\"?"), std::string::npos)
      << unknown.error().fix();
  auto own = change([&](auto done) { host_.attach("moody", "ballast.dead-letter", "", done); });
  ASSERT_FALSE(own.ok());
  EXPECT_EQ(own.error().code(), ErrorCode::kInvalidArgument);
  auto policy = change([&](auto done) { host_.attach("moody", "x", "drop", done); });
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message().find("policy \"drop\""), std::string::npos) << policy.error().message();
  auto long_name = change([&](auto done) { host_.attach("moody", std::string(243, 'q'), "", done); });
  ASSERT_FALSE(long_name.ok());
  EXPECT_NE(long_name.error().message().find("at most 242"), std::string::npos)
      << long_name.error().message();
  auto missing = change([&](auto done) { host_.detach("moody", "never", done); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  ASSERT_EQ(view().attachments.size(), 1u);
  EXPECT_EQ(view().attachments[0].queue, "mail");
}

TEST_F(PluginControlTest, ChangesAfterStopAreAnsweredShuttingDown) {
  start("ok");
  host_.stop();
  auto refused = change([&](auto done) { host_.attach("moody", "x", "", done); });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kShuttingDown);
}

}  // namespace
}  // namespace ballast::plugins

#include "plugins/protocol_frames.h"

#include <gtest/gtest.h>

#include "plugins/policy_verdict.h"
#include "util/base64.h"

namespace ballast::plugins {
namespace {

using nlohmann::json;

PluginConfig spam_filter() {
  PluginConfig config;
  config.name = "spam-filter";
  config.command = {"/bin/true"};
  config.queues = {"mail.in"};
  config.options = {{"threshold", "5"}};
  return config;
}

broker::PublishRequest message() {
  broker::PublishRequest request;
  request.id = "m-1";
  request.body = std::string("hello\0world", 11);
  request.properties.content_type = "text/plain";
  request.properties.headers = {{"from", "a@example.org"}};
  request.priority = 4;
  return request;
}

TEST(ProtocolFrames, HelloCarriesTheNameKindAndOptions) {
  const json hello = hello_frame(spam_filter(), "ballast 0.1.0");
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_EQ(hello["protocol"], 1);
  EXPECT_EQ(hello["name"], "spam-filter");
  EXPECT_EQ(hello["kind"], "filter");
  EXPECT_EQ(hello["options"]["threshold"], "5");
}

TEST(ProtocolFrames, FilterFrameCarriesTheMessageWithItsBodyInBase64) {
  const json frame = filter_frame(42, "/", "mail.in", message());
  EXPECT_EQ(frame["id"], 42);
  EXPECT_EQ(frame["queue"], "mail.in");
  EXPECT_EQ(frame["message"]["body_base64"], base64_encode(std::string("hello\0world", 11)));
  EXPECT_EQ(frame["message"]["headers"]["from"], "a@example.org");
  EXPECT_EQ(frame["message"]["priority"], 4);
}

TEST(ProtocolFrames, HelloMustNameProtocolOneAndTheConfiguredKind) {
  EXPECT_EQ(
      *check_hello(json{{"type", "hello"}, {"protocol", 1}, {"version", "1.2"}, {"capabilities", {"filter"}}},
                   spam_filter()),
      "1.2");
  auto wrong_protocol =
      check_hello(json{{"type", "hello"}, {"protocol", 2}, {"capabilities", {"filter"}}}, spam_filter());
  ASSERT_FALSE(wrong_protocol.ok());
  EXPECT_NE(wrong_protocol.error().message().find("protocol 2"), std::string::npos);
  auto no_filter =
      check_hello(json{{"type", "hello"}, {"protocol", 1}, {"capabilities", {"trigger"}}}, spam_filter());
  ASSERT_FALSE(no_filter.ok());
  EXPECT_NE(no_filter.error().message().find("\"filter\""), std::string::npos);
}

TEST(ProtocolFrames, VerdictsBecomeBrokerVerdicts) {
  auto request = message();
  auto accepted = verdict_from_frame(json{{"type", "verdict"}, {"id", 1}, {"action", "accept"}},
                                     spam_filter(), "/", "mail.in", request);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->action, broker::FilterAction::kAccept);
  EXPECT_EQ(accepted->message.body, message().body);

  request = message();
  auto rejected =
      verdict_from_frame(json{{"type", "verdict"}, {"id", 1}, {"action", "reject"}, {"reason", "score 9"}},
                         spam_filter(), "/", "mail.in", request);
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->action, broker::FilterAction::kRefuse);
  EXPECT_EQ(rejected->refusal->code(), ErrorCode::kPluginRejected);
  EXPECT_NE(rejected->refusal->message().find("\"spam-filter\""), std::string::npos);
  EXPECT_NE(rejected->refusal->message().find("\"mail.in\""), std::string::npos);
  EXPECT_NE(rejected->refusal->message().find("score 9"), std::string::npos);

  request = message();
  auto rerouted =
      verdict_from_frame(json{{"type", "verdict"}, {"id", 1}, {"action", "reroute"}, {"queue", "spam"}},
                         spam_filter(), "/", "mail.in", request);
  ASSERT_TRUE(rerouted.ok());
  EXPECT_EQ(rerouted->action, broker::FilterAction::kReroute);
  EXPECT_EQ(rerouted->queue, "spam");

  request = message();
  auto modified = verdict_from_frame(json{{"type", "verdict"},
                                          {"id", 1},
                                          {"action", "modify"},
                                          {"headers", {{"x-score", "2"}}},
                                          {"body_base64", base64_encode("new")}},
                                     spam_filter(), "/", "mail.in", request);
  ASSERT_TRUE(modified.ok());
  EXPECT_EQ(modified->action, broker::FilterAction::kAccept);
  EXPECT_EQ(modified->message.body, "new");
  ASSERT_EQ(modified->message.properties.headers.size(), 1u);
  EXPECT_EQ(modified->message.properties.headers[0].first, "x-score");
}

TEST(ProtocolFrames, AMalformedVerdictIsAProtocolErrorAndLeavesTheMessageAlone) {
  for (const json& frame :
       {json{{"type", "verdict"}, {"id", 1}, {"action", "shred"}},
        json{{"type", "verdict"}, {"id", 1}, {"action", "reroute"}},
        json{{"type", "verdict"},
             {"id", 1},
             {"action", "modify"},
             {"headers", {{"a", "b"}}},
             {"body_base64", "@@@"}},
        json{{"type", "verdict"}, {"id", 1}, {"action", "modify"}, {"headers", {{"a", 1}}}}}) {
    auto request = message();
    auto verdict = verdict_from_frame(frame, spam_filter(), "/", "mail.in", request);
    ASSERT_FALSE(verdict.ok()) << frame.dump();
    EXPECT_EQ(verdict.error().code(), ErrorCode::kPluginUnavailable);
    EXPECT_EQ(request.properties.headers, message().properties.headers) << frame.dump();
    EXPECT_EQ(request.body, message().body);
  }
}

TEST(PolicyVerdict, EachPolicyGivesItsVerdictNamingThePluginAndWhy) {
  EXPECT_EQ(
      policy_verdict("spam-filter", FilterPolicy::kHold, "/", "mail.in", message(), "starting", "fix").action,
      broker::FilterAction::kHold);
  auto bypass =
      policy_verdict("spam-filter", FilterPolicy::kBypass, "/", "mail.in", message(), "too slow", "fix");
  EXPECT_EQ(bypass.action, broker::FilterAction::kBypass);
  EXPECT_EQ(bypass.bypass_header, "spam-filter: too slow");
  EXPECT_EQ(bypass.message.body, message().body);
  auto refused = policy_verdict("spam-filter", FilterPolicy::kReject, "/", "mail.in", message(),
                                "restarting after it exited with status 3", "raise call_timeout_ms");
  EXPECT_EQ(refused.action, broker::FilterAction::kRefuse);
  ASSERT_TRUE(refused.refusal.has_value());
  EXPECT_EQ(refused.refusal->code(), ErrorCode::kPluginUnavailable);
  EXPECT_NE(refused.refusal->message().find("\"spam-filter\""), std::string::npos);
  EXPECT_NE(refused.refusal->message().find("exited with status 3"), std::string::npos);
  EXPECT_NE(refused.refusal->fix().find("raise call_timeout_ms"), std::string::npos);
}

}  // namespace
}  // namespace ballast::plugins

namespace ballast::plugins {
namespace {

TEST(ProtocolFrames, ATriggerFrameCarriesTheQueueAttemptAndMessage) {
  TriggerWork work;
  work.vhost = "/";
  work.queue = "orders";
  work.attempt = 3;
  work.message.id = "m-7";
  work.message.body = std::string("a\0b", 3);
  work.message.properties.content_type = "application/json";
  work.message.properties.headers = {{"k", "v"}};
  work.message.priority = 2;
  work.message.published_at_ms = 1700000000123;
  const json frame = trigger_frame(9, work);
  EXPECT_EQ(frame["type"], "trigger");
  EXPECT_EQ(frame["id"], 9);
  EXPECT_EQ(frame["vhost"], "/");
  EXPECT_EQ(frame["queue"], "orders");
  EXPECT_EQ(frame["attempt"], 3);
  EXPECT_EQ(frame["message"]["id"], "m-7");
  EXPECT_EQ(base64_decode(frame["message"]["body_base64"].get<std::string>()), std::string("a\0b", 3));
  EXPECT_EQ(frame["message"]["content_type"], "application/json");
  EXPECT_EQ(frame["message"]["headers"]["k"], "v");
  EXPECT_EQ(frame["message"]["priority"], 2);
  EXPECT_EQ(frame["message"]["published_at_ms"], 1700000000123);
  EXPECT_FALSE(frame["message"].contains("routing_key"));  // published over HTTP
  work.message.properties.amqp_routing_key = "orders.eu";
  EXPECT_EQ(trigger_frame(10, work)["message"]["routing_key"], "orders.eu");
}

TEST(ProtocolFrames, OutcomesAreDoneRetryOrFailedWithAReason) {
  auto done = outcome_from_frame(json{{"type", "outcome"}, {"id", 1}, {"result", "done"}});
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_EQ(done->result, TriggerResult::kDone);
  auto retry =
      outcome_from_frame(json{{"type", "outcome"}, {"id", 1}, {"result", "retry"}, {"reason", "HTTP 503"}});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->result, TriggerResult::kRetry);
  EXPECT_EQ(retry->reason, "HTTP 503");
  auto failed = outcome_from_frame(json{{"type", "outcome"}, {"id", 1}, {"result", "failed"}});
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->result, TriggerResult::kFailed);
  EXPECT_EQ(failed->reason, "no reason given");
  EXPECT_EQ(trigger_result_name(TriggerResult::kFailed), "failed");
}

TEST(ProtocolFrames, AnOutcomeWithAnUnknownResultIsAProtocolError) {
  for (const json& frame : {json{{"type", "outcome"}, {"id", 1}, {"result", "maybe"}},
                            json{{"type", "outcome"}, {"id", 1}}, json{{"type", "outcome"}, {"result", 3}}}) {
    auto outcome = outcome_from_frame(frame);
    ASSERT_FALSE(outcome) << frame.dump();
    EXPECT_EQ(outcome.error().code(), ErrorCode::kPluginUnavailable);
    EXPECT_NE(outcome.error().message().find("is not done, retry or failed"), std::string::npos);
  }
}

TEST(ProtocolFrames, ATriggerMustAnnounceTheTriggerCapability) {
  PluginConfig config = spam_filter();
  config.kind = "trigger";
  EXPECT_EQ(hello_frame(config, "b")["kind"], "trigger");
  EXPECT_FALSE(check_hello(json{{"type", "hello"}, {"protocol", 1}, {"capabilities", {"filter"}}}, config));
  EXPECT_TRUE(check_hello(json{{"type", "hello"}, {"protocol", 1}, {"capabilities", {"trigger"}}}, config));
}

}  // namespace
}  // namespace ballast::plugins

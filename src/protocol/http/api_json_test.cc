#include "protocol/http/api_json.h"

#include <gtest/gtest.h>

namespace ballast::http {
namespace {

TEST(ApiJson, ParsesASingleMessageWithEveryField) {
  auto parsed = parse_publish(R"({"body":"aGk=","encoding":"base64","headers":{"tenant":"acme"},
    "content_type":"text/plain","correlation_id":"c1","reply_to":"r","priority":7,"id":"m1",
    "delay_seconds":5,"ttl_seconds":60})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  ASSERT_EQ(parsed->size(), 1u);
  const auto& message = parsed->front();
  EXPECT_EQ(message.body, "hi");
  EXPECT_EQ(message.properties.encoding, broker::BodyEncoding::kBase64);
  EXPECT_EQ(message.properties.headers.front(), (std::pair<std::string, std::string>{"tenant", "acme"}));
  EXPECT_EQ(message.priority, 7);
  EXPECT_EQ(message.delay_seconds, 5u);
  EXPECT_EQ(message.ttl_seconds, 60u);
}

TEST(ApiJson, BatchErrorsNameTheIndexAndField) {
  auto parsed = parse_publish(R"({"messages":[{"body":"ok"},{"body":"x","priority":12}]})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message().find("messages[1]"), std::string::npos) << parsed.error().message();
  EXPECT_NE(parsed.error().message().find("priority"), std::string::npos);
}

TEST(ApiJson, UnknownSettingSuggestsTheNearestKey) {
  auto parsed = parse_queue_settings(R"({"max_lenght": 5})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message().find("max_lenght"), std::string::npos);
  EXPECT_NE(parsed.error().fix().find("max_length"), std::string::npos);
}

TEST(ApiJson, QueueTtlInSecondsIsStillAccepted) {
  auto parsed = parse_queue_settings(R"({"message_ttl_seconds": 60})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->message_ttl_ms, 60'000u);
}

TEST(ApiJson, QueueTtlInMillisecondsIsExact) {
  auto parsed = parse_queue_settings(R"({"message_ttl_ms": 300})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->message_ttl_ms, 300u);
}

TEST(ApiJson, QueueTtlShowsBothFieldsAndTheyReadBack) {
  broker::QueueInfo info;
  info.settings.message_ttl_ms = 1'500;
  const auto rendered = queue_info_json(info);
  EXPECT_EQ(rendered["settings"]["message_ttl_ms"], 1'500);
  EXPECT_EQ(rendered["settings"]["message_ttl_seconds"], 2) << "seconds are the ms rounded up";
  auto again = parse_queue_settings(rendered["settings"].dump());
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(again->message_ttl_ms, 1'500u);
}

TEST(ApiJson, QueueTtlFieldsThatDisagreeOrAreZeroAreRefused) {
  for (const char* body :
       {R"({"message_ttl_seconds": 2, "message_ttl_ms": 3000})", R"({"message_ttl_ms": 0})",
        R"({"message_ttl_seconds": 0})", R"({"message_ttl_ms": 4294967296000})"}) {
    auto parsed = parse_queue_settings(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message().find("message_ttl"), std::string::npos) << parsed.error().message();
    EXPECT_FALSE(parsed.error().fix().empty());
  }
}

TEST(ApiJson, MalformedInputIsAnErrorNeverACrash) {
  const std::string inputs[] = {"",
                                "{",
                                "[]",
                                "null",
                                R"({"body": 5})",
                                R"({"body":"x","encoding":"base64"})",
                                R"({"messages": []})",
                                R"({"messages": [1]})",
                                R"({"body":"x","headers":[]})",
                                R"({"body":"x","priority":-1})",
                                R"({"body":"x","priority":1.5})"};
  for (const auto& input : inputs) {
    auto parsed = parse_publish(input);
    EXPECT_FALSE(parsed.ok()) << input;
  }
}

TEST(ApiJson, ReceiveDefaultsAndLimits) {
  auto defaults = parse_receive("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->max_messages, 1u);
  EXPECT_EQ(defaults->wait_ms, 0u);
  EXPECT_FALSE(parse_receive(R"({"max": 1001})").ok());
  EXPECT_FALSE(parse_receive(R"({"wait_seconds": 21})").ok());
}

TEST(ApiJson, NonUtf8BodiesAreReturnedAsBase64) {
  broker::DeliveredMessage message;
  message.body = std::string("\xFF\xFE", 2);
  const auto rendered = messages_json({message});
  EXPECT_EQ(rendered["messages"][0]["encoding"], "base64");
  EXPECT_EQ(rendered["messages"][0]["body"], "//4=");
}

}  // namespace
}  // namespace ballast::http

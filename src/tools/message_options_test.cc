#include "tools/message_options.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

using nlohmann::json;

TEST(MessageOptions, Utf8BodiesGoAsTextWithOnlyTheOptionsThatAreSet) {
  EXPECT_EQ(message_json("hello", MessageOptions{}), (json{{"body", "hello"}}));
}

TEST(MessageOptions, NonUtf8BodiesGoAsBase64) {
  const auto message = message_json(std::string("\xFF\xFE", 2), MessageOptions{});
  EXPECT_EQ(message["encoding"], "base64");
  EXPECT_EQ(message["body"], "//4=");
}

TEST(MessageOptions, EveryOptionLandsUnderItsApiKey) {
  MessageOptions options;
  options.headers = {"tenant=acme", "trace=a=b"};
  options.content_type = "text/plain";
  options.id = "order-1";
  options.priority = 7;
  options.delay_seconds = 30;
  options.ttl_seconds = 60;
  ASSERT_TRUE(check_message_options(options).ok());
  const json expected = {{"body", "x"},
                         {"headers", {{"tenant", "acme"}, {"trace", "a=b"}}},
                         {"content_type", "text/plain"},
                         {"id", "order-1"},
                         {"priority", 7},
                         {"delay_seconds", 30},
                         {"ttl_seconds", 60}};
  EXPECT_EQ(message_json("x", options), expected);
}

TEST(MessageOptions, MessagesJsonKeepsTheOrderOfLines) {
  const auto messages = messages_json({"a", "b"}, MessageOptions{});
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["body"], "a");
  EXPECT_EQ(messages[1]["body"], "b");
}

TEST(MessageOptions, RefusesHeadersThatAreNotNameEqualsValue) {
  for (const char* bad : {"no-equals", "=value"}) {
    MessageOptions options;
    options.headers = {bad};
    auto checked = check_message_options(options);
    ASSERT_FALSE(checked.ok()) << bad;
    EXPECT_NE(checked.error().message().find(bad), std::string::npos);
  }
  MessageOptions empty_value;
  empty_value.headers = {"name="};
  EXPECT_TRUE(check_message_options(empty_value).ok());
}

TEST(MessageOptions, RefusesNonUtf8MetadataNamingTheOption) {
  MessageOptions options;
  options.id = "\xFF";
  auto checked = check_message_options(options);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message().find("--id"), std::string::npos);
}

}  // namespace
}  // namespace ballast::tools

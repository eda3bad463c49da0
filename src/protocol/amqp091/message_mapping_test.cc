#include "protocol/amqp091/message_mapping.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "protocol/amqp091/wire.h"

namespace ballast::amqp {
namespace {

const std::string kUser = "guest";

template <typename T>
FieldValue make(T value) {
  FieldValue field;
  field.value.template emplace<T>(std::move(value));
  return field;
}

std::string encoded(const BasicProperties& properties) {
  std::string out;
  WireWriter writer(out);
  encode(properties, writer);
  return out;
}

BasicProperties decoded(const std::string& raw) {
  BasicProperties properties;
  WireReader reader(raw);
  EXPECT_TRUE(decode(reader, properties));
  EXPECT_EQ(reader.remaining(), 0u);
  return properties;
}

FieldEntries headers_of(const BasicProperties& properties) {
  FieldEntries headers;
  if (!properties.headers) {
    ADD_FAILURE() << "no headers";
    return headers;
  }
  EXPECT_TRUE(parse_table(properties.headers->raw, headers));
  return headers;
}

Result<broker::PublishRequest> publish(const BasicProperties& properties) {
  return publish_request(encoded(properties), "body", kUser);
}

BasicProperties with_expiration(std::string expiration) {
  BasicProperties properties;
  properties.expiration = std::move(expiration);
  return properties;
}

// A message dead-lettered once: what the broker records in its native headers.
broker::DeliveredMessage dead_lettered(std::string amqp_properties) {
  broker::DeliveredMessage message;
  message.id = "m-1";
  message.body = "body";
  message.published_at_ms = 1'700'000'000'500;
  message.properties.amqp_properties = std::move(amqp_properties);
  message.properties.headers = {
      {"x-death-reason", "rejected"},
      {"x-death-queue", "orders"},
      {"x-death-count", "3"},
      {"x-death-time", "1700000123456"},
      {"x-death-exchange", "orders.ex"},
      {"x-death-routing-key", "order.created"},
  };
  return message;
}

// The x-death array of one table RabbitMQ would send for dead_lettered().
FieldValue expected_x_death() {
  FieldEntries death;
  death.emplace_back("count", make(int64_t{3}));
  death.emplace_back("reason", make(std::string("rejected")));
  death.emplace_back("queue", make(std::string("orders")));
  death.emplace_back("time", make(Timestamp{1'700'000'123}));
  death.emplace_back("exchange", make(std::string("orders.ex")));
  death.emplace_back("routing-keys", make(FieldArray{make(std::string("order.created"))}));
  return make(FieldArray{make(std::move(death))});
}

void expect_dead_letter_headers(const FieldEntries& headers) {
  const FieldValue* x_death = find_field(headers, "x-death");
  ASSERT_NE(x_death, nullptr);
  const auto* deaths = std::get_if<FieldArray>(&x_death->value);
  ASSERT_NE(deaths, nullptr) << "x-death must be an array (A)";
  ASSERT_EQ(deaths->size(), 1u);
  const auto* death = std::get_if<FieldEntries>(&(*deaths)[0].value);
  ASSERT_NE(death, nullptr) << "x-death holds tables (F)";
  const FieldValue* count = find_field(*death, "count");
  ASSERT_NE(count, nullptr);
  EXPECT_NE(std::get_if<int64_t>(&count->value), nullptr) << "count is a long-long-int (l)";
  const FieldValue* time = find_field(*death, "time");
  ASSERT_NE(time, nullptr);
  EXPECT_NE(std::get_if<Timestamp>(&time->value), nullptr) << "time is a timestamp (T)";
  EXPECT_TRUE(*x_death == expected_x_death());

  ASSERT_NE(find_field(headers, "x-first-death-reason"), nullptr);
  EXPECT_EQ(*field_as_string(*find_field(headers, "x-first-death-reason")), "rejected");
  ASSERT_NE(find_field(headers, "x-first-death-queue"), nullptr);
  EXPECT_EQ(*field_as_string(*find_field(headers, "x-first-death-queue")), "orders");
  ASSERT_NE(find_field(headers, "x-first-death-exchange"), nullptr);
  EXPECT_EQ(*field_as_string(*find_field(headers, "x-first-death-exchange")), "orders.ex");
  for (const auto& [name, value] : headers) {
    EXPECT_FALSE(name.starts_with("x-death-")) << "native header " << name << " leaked to the client";
  }
}

TEST(PublishRequest, KeepsTheRawPropertiesByteIdentical) {
  FieldEntries headers;
  headers.emplace_back("b", make(int8_t{1}));
  headers.emplace_back("a", make(1.25));
  BasicProperties properties;
  properties.content_type = "application/json";
  properties.headers = encode_table(headers);
  properties.delivery_mode = 1;
  properties.app_id = "app";
  const std::string raw = encoded(properties);
  auto request = publish_request(raw, "payload", kUser);
  ASSERT_TRUE(request.ok()) << request.error().describe();
  EXPECT_EQ(request->properties.amqp_properties, raw);
  EXPECT_EQ(request->body, "payload");
}

TEST(PublishRequest, CopiesTheBrokerVisibleFields) {
  BasicProperties properties;
  properties.content_type = "text/plain";
  properties.correlation_id = "corr-9";
  properties.reply_to = "replies";
  properties.message_id = "id-42";
  auto request = publish(properties);
  ASSERT_TRUE(request.ok()) << request.error().describe();
  EXPECT_EQ(request->properties.content_type, "text/plain");
  EXPECT_EQ(request->properties.correlation_id, "corr-9");
  EXPECT_EQ(request->properties.reply_to, "replies");
  EXPECT_EQ(request->id, "id-42");
  EXPECT_FALSE(request->ttl_ms.has_value());
  EXPECT_EQ(request->priority, 0);
}

TEST(PublishRequest, LetsTheBrokerAssignAnIdWhenMessageIdIsEmptyOrTooLong) {
  BasicProperties empty_id;
  empty_id.message_id = "";
  auto empty = publish(empty_id);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->id.empty());
  BasicProperties long_id;
  long_id.message_id = std::string(255, 'i');
  auto longest = publish(long_id);
  ASSERT_TRUE(longest.ok());
  EXPECT_EQ(longest->id, std::string(255, 'i'));
}

TEST(PublishRequest, MapsExpirationToMilliseconds) {
  auto request = publish(with_expiration("1500"));
  ASSERT_TRUE(request.ok()) << request.error().describe();
  ASSERT_TRUE(request->ttl_ms.has_value());
  EXPECT_EQ(*request->ttl_ms, 1500u);
  auto zero = publish(with_expiration("0"));
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->ttl_ms, 0u);
}

TEST(PublishRequest, RefusesAMalformedExpiration) {
  for (const char* bad : {"abc", "-1", "", "15s", " 15", "15 ", "+15", "1.5", "99999999999999999999999"}) {
    auto request = publish(with_expiration(bad));
    ASSERT_FALSE(request.ok()) << "expiration \"" << bad << "\"";
    EXPECT_EQ(request.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(request.error().message().find("expiration"), std::string::npos) << request.error().describe();
  }
}

TEST(PublishRequest, AcceptsTheConnectionsOwnUserId) {
  BasicProperties properties;
  properties.user_id = kUser;
  EXPECT_TRUE(publish(properties).ok());
}

TEST(PublishRequest, RefusesAnotherUserId) {
  BasicProperties properties;
  properties.user_id = "admin";
  auto request = publish(properties);
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(request.error().message().find("admin"), std::string::npos);
  EXPECT_NE(request.error().message().find(kUser), std::string::npos);
}

TEST(PublishRequest, CapsPriorityAtNine) {
  for (auto [given, kept] : std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {9, 9}, {10, 9}, {255, 9}}) {
    BasicProperties properties;
    properties.priority = static_cast<uint8_t>(given);
    auto request = publish(properties);
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(request->priority, kept) << "priority " << given;
  }
}

TEST(PublishRequest, RefusesAPropertyListThatDoesNotParse) {
  const std::string raw = encoded([] {
    BasicProperties properties;
    properties.content_type = "text/plain";
    properties.message_id = "id";
    return properties;
  }());
  for (size_t cut = 0; cut < raw.size(); ++cut) {
    auto request = publish_request(raw.substr(0, cut), "", kUser);
    ASSERT_FALSE(request.ok()) << "cut at " << cut;
    EXPECT_EQ(request.error().code(), ErrorCode::kInvalidArgument);
  }
  auto trailing = publish_request(raw + "x", "", kUser);
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error().code(), ErrorCode::kInvalidArgument);
}

TEST(DeliveryProperties, ReturnsTheRawBytesOfAMessageThatWasNotDeadLettered) {
  FieldEntries headers;
  headers.emplace_back("z", make(Decimal{1, 5}));
  BasicProperties properties;
  properties.headers = encode_table(headers);
  properties.priority = 200;  // as the client sent it, not as the broker capped it
  const std::string raw = encoded(properties);
  auto request = publish_request(raw, "b", kUser);
  ASSERT_TRUE(request.ok());
  broker::DeliveredMessage message;
  message.id = "m";
  message.properties = request->properties;
  message.priority = request->priority;
  EXPECT_EQ(delivery_properties(message), raw);
}

TEST(DeliveryProperties, BuildsXDeathForADeadLetteredMessage) {
  FieldEntries original;
  original.emplace_back("app", make(std::string("v")));
  original.emplace_back("n", make(int32_t{7}));
  BasicProperties properties;
  properties.content_type = "application/json";
  properties.headers = encode_table(original);
  properties.message_id = "client-id";

  const BasicProperties delivered = decoded(delivery_properties(dead_lettered(encoded(properties))));
  EXPECT_EQ(delivered.content_type, "application/json");
  EXPECT_EQ(delivered.message_id, "client-id");
  const FieldEntries headers = headers_of(delivered);
  ASSERT_NE(find_field(headers, "app"), nullptr);
  EXPECT_TRUE(*find_field(headers, "app") == make(std::string("v")));
  ASSERT_NE(find_field(headers, "n"), nullptr);
  EXPECT_TRUE(*find_field(headers, "n") == make(int32_t{7}));
  expect_dead_letter_headers(headers);
  EXPECT_EQ(headers.size(), 2u + 4u);
}

TEST(DeliveryProperties, AddsHeadersToADeadLetteredMessagePublishedWithout) {
  BasicProperties properties;
  properties.content_type = "text/plain";
  const BasicProperties delivered = decoded(delivery_properties(dead_lettered(encoded(properties))));
  const FieldEntries headers = headers_of(delivered);
  expect_dead_letter_headers(headers);
  EXPECT_EQ(headers.size(), 4u);
}

TEST(DeliveryProperties, ReplacesAnEarlierXDeathRatherThanDuplicatingIt) {
  FieldEntries original;
  original.emplace_back("x-death", make(FieldArray{make(FieldEntries{})}));
  original.emplace_back("x-first-death-reason", make(std::string("expired")));
  original.emplace_back("keep", make(true));
  BasicProperties properties;
  properties.headers = encode_table(original);
  const FieldEntries headers = headers_of(decoded(delivery_properties(dead_lettered(encoded(properties)))));
  int x_death = 0, first_reason = 0;
  for (const auto& [name, value] : headers) {
    x_death += name == "x-death";
    first_reason += name == "x-first-death-reason";
  }
  EXPECT_EQ(x_death, 1);
  EXPECT_EQ(first_reason, 1);
  ASSERT_NE(find_field(headers, "keep"), nullptr);
  expect_dead_letter_headers(headers);
}

TEST(DeliveryProperties, SynthesizesPropertiesForAMessagePublishedOverHttp) {
  broker::DeliveredMessage message;
  message.id = "http-1";
  message.published_at_ms = 1'700'000'000'999;
  message.properties.content_type = "text/plain";
  message.properties.correlation_id = "corr";
  message.properties.reply_to = "back";
  message.properties.headers = {{"tenant", "acme"}, {"n", "7"}};
  const BasicProperties delivered = decoded(delivery_properties(message));
  EXPECT_EQ(delivered.content_type, "text/plain");
  EXPECT_EQ(delivered.correlation_id, "corr");
  EXPECT_EQ(delivered.reply_to, "back");
  EXPECT_EQ(delivered.message_id, "http-1");
  EXPECT_EQ(delivered.delivery_mode, 2);
  EXPECT_EQ(delivered.timestamp, 1'700'000'000u);
  EXPECT_FALSE(delivered.priority.has_value());
  FieldEntries expected;
  expected.emplace_back("tenant", make(std::string("acme")));
  expected.emplace_back("n", make(std::string("7")));
  EXPECT_TRUE(headers_of(delivered) == expected) << "headers are strings (S), in order";
}

TEST(DeliveryProperties, SynthesizesOnlyWhatAnHttpMessageHas) {
  broker::DeliveredMessage message;
  message.id = "http-2";
  message.priority = 4;
  const BasicProperties delivered = decoded(delivery_properties(message));
  EXPECT_FALSE(delivered.content_type.has_value());
  EXPECT_FALSE(delivered.correlation_id.has_value());
  EXPECT_FALSE(delivered.reply_to.has_value());
  EXPECT_FALSE(delivered.headers.has_value());
  EXPECT_EQ(delivered.priority, 4);
  EXPECT_EQ(delivered.delivery_mode, 2);
}

TEST(DeliveryProperties, SynthesizesXDeathForADeadLetteredHttpMessage) {
  broker::DeliveredMessage message = dead_lettered("");
  message.properties.headers.emplace_back("tenant", "acme");
  const FieldEntries headers = headers_of(decoded(delivery_properties(message)));
  ASSERT_NE(find_field(headers, "tenant"), nullptr);
  expect_dead_letter_headers(headers);
}

TEST(MatchHeaders, GivesHeaderValuesAsText) {
  FieldEntries headers;
  headers.emplace_back("s", make(std::string("text")));
  headers.emplace_back("i", make(int32_t{-7}));
  headers.emplace_back("b", make(int8_t{5}));
  headers.emplace_back("t", make(true));
  headers.emplace_back("v", make(Void{}));
  BasicProperties properties;
  properties.headers = encode_table(headers);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"s", "text"}, {"i", "-7"}, {"b", "5"}, {"t", "true"}, {"v", ""}};
  EXPECT_EQ(match_headers(encoded(properties)), expected);
}

TEST(MatchHeaders, GivesNothingForNoHeadersOrBadBytes) {
  EXPECT_TRUE(match_headers(encoded({})).empty());
  EXPECT_TRUE(match_headers("").empty());
  EXPECT_TRUE(match_headers(std::string("\x20\x00\x00\x00\x00\x05"
                                        "F",
                                        7))
                  .empty());
}

TEST(TableAsText, ConvertsBindingArgumentsOrRefusesAMalformedTable) {
  FieldEntries arguments;
  arguments.emplace_back("x-match", make(std::string("any")));
  arguments.emplace_back("format", make(std::string("pdf")));
  std::vector<std::pair<std::string, std::string>> text;
  ASSERT_TRUE(table_as_text(encode_table(arguments), text));
  const std::vector<std::pair<std::string, std::string>> expected{{"x-match", "any"}, {"format", "pdf"}};
  EXPECT_EQ(text, expected);
  std::vector<std::pair<std::string, std::string>> bad;
  EXPECT_FALSE(table_as_text(FieldTable{std::string("\x01k?", 3)}, bad));
}

}  // namespace
}  // namespace ballast::amqp

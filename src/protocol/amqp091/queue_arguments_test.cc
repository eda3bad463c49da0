#include "protocol/amqp091/queue_arguments.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "protocol/amqp091/wire.h"

namespace ballast::amqp {
namespace {

const std::string kQueue = "invoices";

template <typename T>
FieldValue make(T value) {
  FieldValue field;
  field.value.template emplace<T>(std::move(value));
  return field;
}

template <typename T>
FieldTable one(const std::string& name, T value) {
  FieldEntries entries;
  entries.emplace_back(name, make(std::move(value)));
  return encode_table(entries);
}

broker::QueueSettings settings_of(const FieldTable& arguments) {
  auto settings = queue_settings_from_arguments(arguments, kQueue);
  EXPECT_TRUE(settings.ok()) << settings.error().describe();
  return settings.ok() ? *settings : broker::QueueSettings{};
}

// The call fails with `code`, and its message names the queue and `names`.
void expect_refused(const FieldTable& arguments, ErrorCode code, std::string_view names) {
  auto settings = queue_settings_from_arguments(arguments, kQueue);
  ASSERT_FALSE(settings.ok());
  EXPECT_EQ(settings.error().code(), code) << settings.error().describe();
  EXPECT_NE(settings.error().message().find("\"" + kQueue + "\""), std::string::npos)
      << settings.error().describe();
  EXPECT_NE(settings.error().message().find(names), std::string::npos) << settings.error().describe();
  EXPECT_FALSE(settings.error().fix().empty());
}

TEST(QueueArguments, NoArgumentsGiveDefaultsWithEqualPriorities) {
  const broker::QueueSettings settings = settings_of(FieldTable{});
  broker::QueueSettings expected;
  expected.max_priority = 0;
  EXPECT_EQ(settings, expected);
}

TEST(QueueArguments, MessageTtlIsKeptToTheMillisecond) {
  EXPECT_EQ(settings_of(one("x-message-ttl", int32_t{300})).message_ttl_ms, 300u);
  EXPECT_EQ(settings_of(one("x-message-ttl", int32_t{1500})).message_ttl_ms, 1'500u);
  EXPECT_EQ(settings_of(one("x-message-ttl", int32_t{1001})).message_ttl_ms, 1'001u);
  EXPECT_EQ(settings_of(one("x-message-ttl", int32_t{1})).message_ttl_ms, 1u);
  EXPECT_EQ(settings_of(one("x-message-ttl", int64_t{86'400'000})).message_ttl_ms, 86'400'000u);
}

// A visible message has already been committed, so "at once" cannot be exact: 0 keeps the
// message for one second, in which a waiting consumer gets it (docs/amqp.md).
TEST(QueueArguments, MessageTtlZeroBecomesOneSecond) {
  EXPECT_EQ(settings_of(one("x-message-ttl", int32_t{0})).message_ttl_ms, 1'000u);
}

TEST(QueueArguments, MessageTtlAcceptsEveryIntegerWidth) {
  EXPECT_EQ(settings_of(one("x-message-ttl", int8_t{100})).message_ttl_ms, 100u);
  EXPECT_EQ(settings_of(one("x-message-ttl", uint8_t{200})).message_ttl_ms, 200u);
  EXPECT_EQ(settings_of(one("x-message-ttl", int16_t{3000})).message_ttl_ms, 3'000u);
  EXPECT_EQ(settings_of(one("x-message-ttl", uint16_t{4000})).message_ttl_ms, 4'000u);
  EXPECT_EQ(settings_of(one("x-message-ttl", uint32_t{5000})).message_ttl_ms, 5'000u);
}

TEST(QueueArguments, MessageTtlOfTheLargestUint32MillisecondsFits) {
  EXPECT_EQ(settings_of(one("x-message-ttl", int64_t{4'294'967'295})).message_ttl_ms, 4'294'967'295u);
}

// RabbitMQ refuses a TTL over 2^32-1 ms; so does Ballast, naming the argument.
TEST(QueueArguments, MessageTtlBeyondUint32MillisecondsIsRefused) {
  expect_refused(one("x-message-ttl", int64_t{4'294'967'296}), ErrorCode::kInvalidArgument, "x-message-ttl");
  expect_refused(one("x-message-ttl", int64_t{4'294'967'297'000}), ErrorCode::kInvalidArgument,
                 "x-message-ttl");
}

TEST(QueueArguments, NegativeMessageTtlIsRefused) {
  expect_refused(one("x-message-ttl", int32_t{-1}), ErrorCode::kInvalidArgument, "x-message-ttl");
  expect_refused(one("x-message-ttl", int64_t{std::numeric_limits<int64_t>::min()}),
                 ErrorCode::kInvalidArgument, "x-message-ttl");
}

TEST(QueueArguments, NonIntegerMessageTtlIsRefused) {
  expect_refused(one("x-message-ttl", std::string("60000")), ErrorCode::kInvalidArgument, "x-message-ttl");
  expect_refused(one("x-message-ttl", 60000.0), ErrorCode::kInvalidArgument, "x-message-ttl");
  expect_refused(one("x-message-ttl", true), ErrorCode::kInvalidArgument, "x-message-ttl");
  expect_refused(one("x-message-ttl", Void{}), ErrorCode::kInvalidArgument, "x-message-ttl");
}

TEST(QueueArguments, MaxLengthIsKept) {
  EXPECT_EQ(settings_of(one("x-max-length", int32_t{1})).max_length, 1u);
  EXPECT_EQ(settings_of(one("x-max-length", int64_t{10'000'000'000})).max_length, 10'000'000'000u);
}

TEST(QueueArguments, MaxLengthZeroIsRefused) {
  expect_refused(one("x-max-length", int32_t{0}), ErrorCode::kInvalidArgument, "x-max-length");
}

TEST(QueueArguments, NegativeMaxLengthIsRefused) {
  expect_refused(one("x-max-length", int32_t{-5}), ErrorCode::kInvalidArgument, "x-max-length");
}

TEST(QueueArguments, MaxLengthBytesIsKept) {
  EXPECT_EQ(settings_of(one("x-max-length-bytes", int64_t{1 << 20})).max_bytes, uint64_t{1 << 20});
}

TEST(QueueArguments, MaxLengthBytesBelowOneIsRefused) {
  expect_refused(one("x-max-length-bytes", int32_t{0}), ErrorCode::kInvalidArgument, "x-max-length-bytes");
  expect_refused(one("x-max-length-bytes", int32_t{-1}), ErrorCode::kInvalidArgument, "x-max-length-bytes");
  expect_refused(one("x-max-length-bytes", std::string("1mb")), ErrorCode::kInvalidArgument,
                 "x-max-length-bytes");
}

TEST(QueueArguments, OverflowRejectPublishAndDropHeadAreKept) {
  EXPECT_EQ(settings_of(one("x-overflow", std::string("reject-publish"))).overflow,
            broker::Overflow::kRejectPublish);
  EXPECT_EQ(settings_of(one("x-overflow", std::string("drop-head"))).overflow, broker::Overflow::kDropHead);
}

TEST(QueueArguments, OverflowRejectPublishDlxIsNotImplemented) {
  expect_refused(one("x-overflow", std::string("reject-publish-dlx")), ErrorCode::kNotImplemented,
                 "reject-publish-dlx");
}

TEST(QueueArguments, UnknownOverflowIsRefused) {
  expect_refused(one("x-overflow", std::string("drop-tail")), ErrorCode::kInvalidArgument, "x-overflow");
  expect_refused(one("x-overflow", std::string("")), ErrorCode::kInvalidArgument, "x-overflow");
  expect_refused(one("x-overflow", int32_t{1}), ErrorCode::kInvalidArgument, "x-overflow");
}

TEST(QueueArguments, DeadLetterExchangeAndRoutingKeyAreKept) {
  FieldEntries entries;
  entries.emplace_back("x-dead-letter-exchange", make(std::string("dlx")));
  entries.emplace_back("x-dead-letter-routing-key", make(std::string("dead.invoices")));
  const broker::QueueSettings settings = settings_of(encode_table(entries));
  EXPECT_EQ(settings.dead_letter_exchange, "dlx");
  EXPECT_EQ(settings.dead_letter_queue, "dead.invoices");
}

TEST(QueueArguments, DeadLetterArgumentsMustBeStrings) {
  expect_refused(one("x-dead-letter-exchange", int32_t{1}), ErrorCode::kInvalidArgument,
                 "x-dead-letter-exchange");
  expect_refused(one("x-dead-letter-routing-key", ByteArray{"rk"}), ErrorCode::kInvalidArgument,
                 "x-dead-letter-routing-key");
}

TEST(QueueArguments, MaxPriorityIsCappedAtNine) {
  EXPECT_EQ(settings_of(one("x-max-priority", int32_t{0})).max_priority, 0);
  EXPECT_EQ(settings_of(one("x-max-priority", int32_t{5})).max_priority, 5);
  EXPECT_EQ(settings_of(one("x-max-priority", int32_t{9})).max_priority, 9);
  EXPECT_EQ(settings_of(one("x-max-priority", int32_t{10})).max_priority, 9);
  EXPECT_EQ(settings_of(one("x-max-priority", uint8_t{255})).max_priority, 9);
}

TEST(QueueArguments, MaxPriorityOver255IsRefused) {
  expect_refused(one("x-max-priority", int32_t{256}), ErrorCode::kInvalidArgument, "x-max-priority");
  expect_refused(one("x-max-priority", int32_t{-1}), ErrorCode::kInvalidArgument, "x-max-priority");
}

TEST(QueueArguments, DeliveryLimitIsKept) {
  EXPECT_EQ(settings_of(one("x-delivery-limit", int32_t{5})).delivery_limit, 5u);
  EXPECT_EQ(settings_of(one("x-delivery-limit", int64_t{1'000'000'000'000})).delivery_limit, UINT32_MAX);
}

TEST(QueueArguments, DeliveryLimitBelowOneIsRefused) {
  expect_refused(one("x-delivery-limit", int32_t{0}), ErrorCode::kInvalidArgument, "x-delivery-limit");
}

TEST(QueueArguments, ClassicAndQuorumQueueTypesAreAccepted) {
  EXPECT_TRUE(queue_settings_from_arguments(one("x-queue-type", std::string("classic")), kQueue).ok());
  EXPECT_TRUE(queue_settings_from_arguments(one("x-queue-type", std::string("quorum")), kQueue).ok());
}

TEST(QueueArguments, StreamQueueTypeIsRefused) {
  expect_refused(one("x-queue-type", std::string("stream")), ErrorCode::kNotImplemented, "stream");
}

TEST(QueueArguments, NonStringQueueTypeIsRefused) {
  expect_refused(one("x-queue-type", int32_t{1}), ErrorCode::kInvalidArgument, "x-queue-type");
}

TEST(QueueArguments, ExpiresIsKeptInMilliseconds) {
  auto settings = queue_settings_from_arguments(one("x-expires", int32_t{60000}), kQueue);
  ASSERT_TRUE(settings.ok()) << settings.error().describe();
  EXPECT_EQ(settings->expires_ms, std::optional<uint64_t>(60000));
  expect_refused(one("x-expires", int32_t{0}), ErrorCode::kInvalidArgument, "x-expires");
  expect_refused(one("x-expires", int64_t{1} << 40), ErrorCode::kInvalidArgument, "x-expires");
}

TEST(QueueArguments, UnknownAndNonXArgumentsAreIgnored) {
  FieldEntries entries;
  entries.emplace_back("x-foo", make(std::string("bar")));
  entries.emplace_back("x-single-active-consumer", make(true));
  entries.emplace_back("plain", make(int32_t{1}));
  const broker::QueueSettings settings = settings_of(encode_table(entries));
  broker::QueueSettings expected;
  expected.max_priority = 0;
  EXPECT_EQ(settings, expected);
}

TEST(QueueArguments, AppliesSeveralArgumentsTogether) {
  FieldEntries entries;
  entries.emplace_back("x-message-ttl", make(int32_t{60000}));
  entries.emplace_back("x-max-length", make(int32_t{100}));
  entries.emplace_back("x-overflow", make(std::string("drop-head")));
  entries.emplace_back("x-max-priority", make(int8_t{3}));
  const broker::QueueSettings settings = settings_of(encode_table(entries));
  EXPECT_EQ(settings.message_ttl_ms, 60'000u);
  EXPECT_EQ(settings.max_length, 100u);
  EXPECT_EQ(settings.overflow, broker::Overflow::kDropHead);
  EXPECT_EQ(settings.max_priority, 3);
}

TEST(QueueArguments, OneBadArgumentRefusesTheWholeDeclare) {
  FieldEntries entries;
  entries.emplace_back("x-max-length", make(int32_t{100}));
  entries.emplace_back("x-message-ttl", make(int32_t{-1}));
  expect_refused(encode_table(entries), ErrorCode::kInvalidArgument, "x-message-ttl");
}

TEST(QueueArguments, AMalformedTableIsRefused) {
  // "x-max-length" followed by an unknown type letter.
  const FieldTable malformed{
      std::string("\x0Cx-max-length"
                  "Q\x00\x00\x00\x01",
                  18)};
  auto settings = queue_settings_from_arguments(malformed, kQueue);
  ASSERT_FALSE(settings.ok());
  EXPECT_EQ(settings.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(settings.error().message().find(kQueue), std::string::npos);
}

TEST(QueueArguments, ATruncatedTableIsRefusedAtEveryCut) {
  FieldEntries entries;
  entries.emplace_back("x-message-ttl", make(int32_t{60000}));
  const std::string raw = encode_table(entries).raw;
  for (size_t cut = 1; cut < raw.size(); ++cut) {
    auto settings = queue_settings_from_arguments(FieldTable{raw.substr(0, cut)}, kQueue);
    ASSERT_FALSE(settings.ok()) << "cut at " << cut;
    EXPECT_EQ(settings.error().code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace ballast::amqp

#include "broker/journal_records.h"

#include <gtest/gtest.h>

#include "util/bytes.h"

namespace ballast::broker {
namespace {

// A queue-created payload exactly as the version before the millisecond TTL wrote it: 14
// settings fields, the TTL as tag 4 in whole seconds (docs/formats/journal.md).
std::string previous_version_queue_created(std::optional<uint64_t> ttl_seconds) {
  std::string out;
  ByteWriter writer(out);
  writer.u64(7);
  writer.str("/");
  writer.str("jobs");
  writer.u32(14);
  const auto optional_u64 = [&](uint16_t tag, std::optional<uint64_t> value) {
    writer.u16(tag);
    writer.u8(value ? 1 : 0);
    if (value) writer.u64(*value);
  };
  const auto boolean = [&](uint16_t tag, bool value) {
    writer.u16(tag);
    writer.u8(2);
    writer.u8(value ? 1 : 0);
  };
  const auto text = [&](uint16_t tag, std::string_view value) {
    writer.u16(tag);
    writer.u8(3);
    writer.str(value);
  };
  optional_u64(1, std::nullopt);  // max_length
  optional_u64(2, std::nullopt);  // max_bytes
  optional_u64(3, 0);             // overflow
  optional_u64(4, ttl_seconds);   // message TTL s
  optional_u64(5, std::nullopt);  // delivery limit
  text(6, "");
  boolean(7, false);
  optional_u64(8, 0);
  optional_u64(9, 30);
  text(10, "");
  optional_u64(11, std::nullopt);
  boolean(12, true);
  boolean(13, false);
  optional_u64(14, std::nullopt);
  return out;
}

QueueSettings decoded_settings(std::string_view payload) {
  auto decoded = decode_queue_created(payload);
  EXPECT_TRUE(decoded.ok()) << decoded.error().describe();
  return decoded.ok() ? decoded->settings : QueueSettings{};
}

TEST(QueueSettingsRecord, ReadsThePreviousVersionsWholeSecondTtlAsMilliseconds) {
  EXPECT_EQ(decoded_settings(previous_version_queue_created(60)).message_ttl_ms, 60'000u);
  EXPECT_EQ(decoded_settings(previous_version_queue_created(std::nullopt)).message_ttl_ms, std::nullopt);
}

TEST(QueueSettingsRecord, KeepsAMillisecondTtlExactThroughARoundTrip) {
  QueueSettings settings;
  settings.message_ttl_ms = 300;
  const QueueSettings back = decoded_settings(encode(QueueCreatedRecord{7, "/", "jobs", settings}));
  EXPECT_EQ(back.message_ttl_ms, 300u);
  EXPECT_EQ(back, settings);
  auto changed = decode_queue_changed(encode_queue_changed(7, settings));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->settings.message_ttl_ms, 300u);
}

// What the version before reads from a record written now: tag 4, rounded up to whole
// seconds (as it kept AMQP TTLs itself), so rolling back one version keeps every queue's TTL.
TEST(QueueSettingsRecord, StillWritesTheTtlInWholeSecondsRoundedUpForTheVersionBefore) {
  QueueSettings settings;
  settings.message_ttl_ms = 1'500;
  const std::string payload = encode(QueueCreatedRecord{7, "/", "jobs", settings});
  // Cut tag 15 off the end and say 14 fields: the record as the version before would see it
  // once it has skipped the unknown tag.
  const size_t tag15_bytes = 2 + 1 + 8;
  std::string as_before = payload.substr(0, payload.size() - tag15_bytes);
  const size_t count_at = 8 + 4 + 1 + 4 + 4;  // queue id, str "/", str "jobs"
  as_before[count_at] = 14;
  EXPECT_EQ(decoded_settings(as_before).message_ttl_ms, 2'000u);
}

TEST(QueueSettingsRecord, LetsTheMillisecondTagWinWhateverTheOrder) {
  std::string payload = previous_version_queue_created(5);
  const size_t count_at = 8 + 4 + 1 + 4 + 4;
  payload[count_at] = 15;
  ByteWriter writer(payload);
  writer.u16(15);
  writer.u8(1);
  writer.u64(4'250);
  EXPECT_EQ(decoded_settings(payload).message_ttl_ms, 4'250u);

  // Tag 15 first, then tag 4: still the exact value.
  std::string reordered;
  ByteWriter head(reordered);
  head.u64(7);
  head.str("/");
  head.str("jobs");
  head.u32(2);
  head.u16(15);
  head.u8(1);
  head.u64(250);
  head.u16(4);
  head.u8(1);
  head.u64(1);
  EXPECT_EQ(decoded_settings(reordered).message_ttl_ms, 250u);
}

TEST(QueueSettingsRecord, RoundsSecondsUpOnlyWhenThereIsARemainder) {
  EXPECT_EQ(ttl_seconds_rounded_up(1), 1u);
  EXPECT_EQ(ttl_seconds_rounded_up(1'000), 1u);
  EXPECT_EQ(ttl_seconds_rounded_up(1'001), 2u);
  EXPECT_EQ(ttl_seconds_rounded_up(kMaxMessageTtlMs), uint64_t{UINT32_MAX});
}

}  // namespace
}  // namespace ballast::broker

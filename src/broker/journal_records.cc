#include "broker/journal_records.h"

#include "util/bytes.h"

namespace ballast::broker {
namespace {

// Settings fields (docs/formats/journal.md, "Queue settings").
enum SettingTag : uint16_t {
  kTagMaxLength = 1,
  kTagMaxBytes = 2,
  kTagOverflow = 3,
  kTagMessageTtlSeconds = 4,  // rounded up; still written so the version before reads a TTL
  kTagDeliveryLimit = 5,
  kTagDeadLetterQueue = 6,
  kTagDeadLetterDrop = 7,
  kTagDedupWindow = 8,
  kTagVisibilityTimeout = 9,
  kTagDeadLetterExchange = 10,
  kTagMaxPriority = 11,
  kTagDurable = 12,
  kTagAutoDelete = 13,
  kTagExpiresMs = 14,
  kTagMessageTtlMs = 15,  // exact; wins over tag 4 when present
};
enum SettingType : uint8_t { kAbsent = 0, kU64 = 1, kBool = 2, kStr = 3 };

Error malformed(std::string_view what) {
  return Error(ErrorCode::kStorageCorrupt, fmt::format("a {} record does not parse", what),
               "run 'ballast doctor'; the record is quarantined and recovery goes on");
}

void put_optional(ByteWriter& writer, uint16_t tag, const std::optional<uint64_t>& value) {
  writer.u16(tag);
  writer.u8(value ? kU64 : kAbsent);
  if (value) writer.u64(*value);
}

void put_u64(ByteWriter& writer, uint16_t tag, uint64_t value) {
  writer.u16(tag);
  writer.u8(kU64);
  writer.u64(value);
}

void encode_settings(ByteWriter& writer, const QueueSettings& settings) {
  writer.u32(15);
  put_optional(writer, kTagMaxLength, settings.max_length);
  put_optional(writer, kTagMaxBytes, settings.max_bytes);
  put_u64(writer, kTagOverflow, static_cast<uint64_t>(settings.overflow));
  std::optional<uint64_t> ttl_seconds;
  if (settings.message_ttl_ms) ttl_seconds = ttl_seconds_rounded_up(*settings.message_ttl_ms);
  put_optional(writer, kTagMessageTtlSeconds, ttl_seconds);
  put_optional(writer, kTagDeliveryLimit, settings.delivery_limit);
  writer.u16(kTagDeadLetterQueue);
  writer.u8(kStr);
  writer.str(settings.dead_letter_queue);
  writer.u16(kTagDeadLetterDrop);
  writer.u8(kBool);
  writer.u8(settings.dead_letter_drop ? 1 : 0);
  put_u64(writer, kTagDedupWindow, settings.dedup_window_seconds);
  put_u64(writer, kTagVisibilityTimeout, settings.default_visibility_timeout_seconds);
  writer.u16(kTagDeadLetterExchange);
  writer.u8(kStr);
  writer.str(settings.dead_letter_exchange);
  std::optional<uint64_t> max_priority;
  if (settings.max_priority) max_priority = *settings.max_priority;
  put_optional(writer, kTagMaxPriority, max_priority);
  writer.u16(kTagDurable);
  writer.u8(kBool);
  writer.u8(settings.durable ? 1 : 0);
  writer.u16(kTagAutoDelete);
  writer.u8(kBool);
  writer.u8(settings.auto_delete ? 1 : 0);
  put_optional(writer, kTagExpiresMs, settings.expires_ms);
  put_optional(writer, kTagMessageTtlMs, settings.message_ttl_ms);
}

std::optional<uint32_t> narrow(const std::optional<uint64_t>& value) {
  if (!value) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

void apply_setting(QueueSettings& settings, uint16_t tag, const std::optional<uint64_t>& number,
                   const std::string& text) {
  switch (tag) {
    case kTagMaxLength:
      settings.max_length = number;
      break;
    case kTagMaxBytes:
      settings.max_bytes = number;
      break;
    case kTagOverflow:
      settings.overflow = number.value_or(0) == 1 ? Overflow::kDropHead : Overflow::kRejectPublish;
      break;
    case kTagMessageTtlSeconds:  // a journal from before tag 15: whole seconds
      settings.message_ttl_ms.reset();
      if (number) settings.message_ttl_ms = uint64_t{*narrow(number)} * 1000;
      break;
    case kTagMessageTtlMs:
      break;  // applied by decode_settings after every field, so that it wins over tag 4
    case kTagDeliveryLimit:
      settings.delivery_limit = narrow(number);
      break;
    case kTagDeadLetterQueue:
      settings.dead_letter_queue = text;
      break;
    case kTagDeadLetterExchange:
      settings.dead_letter_exchange = text;
      break;
    case kTagMaxPriority:
      settings.max_priority.reset();
      if (number) settings.max_priority = static_cast<uint8_t>(std::min<uint64_t>(*number, 255));
      break;
    case kTagDurable:
      settings.durable = number.value_or(1) != 0;
      break;
    case kTagExpiresMs:
      settings.expires_ms = number;
      break;
    case kTagAutoDelete:
      settings.auto_delete = number.value_or(0) != 0;
      break;
    case kTagDeadLetterDrop:
      settings.dead_letter_drop = number.value_or(0) != 0;
      break;
    case kTagDedupWindow:
      settings.dedup_window_seconds = static_cast<uint32_t>(number.value_or(0));
      break;
    case kTagVisibilityTimeout:
      settings.default_visibility_timeout_seconds = static_cast<uint32_t>(number.value_or(30));
      break;
    default:
      break;  // a newer binary's setting: skipped, as the format promises
  }
}

bool decode_settings(ByteReader& reader, QueueSettings& settings) {
  uint32_t count = 0;
  if (!reader.u32(count)) return false;
  // Tag 15 (the TTL in ms) is exact: it wins over tag 4 (whole seconds) in whatever order they come.
  std::optional<std::optional<uint64_t>> ttl_ms_field;
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t tag = 0;
    uint8_t type = 0;
    if (!reader.u16(tag) || !reader.u8(type)) return false;
    std::optional<uint64_t> number;
    std::string text;
    if (type == kU64) {
      uint64_t value = 0;
      if (!reader.u64(value)) return false;
      number = value;
    } else if (type == kBool) {
      uint8_t value = 0;
      if (!reader.u8(value)) return false;
      number = value;
    } else if (type == kStr) {
      if (!reader.str(text)) return false;
    } else if (type != kAbsent) {
      return false;
    }
    if (tag == kTagMessageTtlMs) ttl_ms_field = number;
    apply_setting(settings, tag, number, text);
  }
  if (ttl_ms_field) settings.message_ttl_ms = *ttl_ms_field;
  return true;
}

void encode_message(ByteWriter& writer, const MessageAppendedRecord& record) {
  writer.u64(record.queue_id);
  writer.str(record.message_id);
  writer.u8(record.priority);
  writer.u8(record.flags);
  writer.u32(record.delivery_count);
  writer.i64(record.published_at_ms);
  writer.i64(record.expires_at_ms);
  writer.i64(record.deliver_at_ms);
  writer.u8(record.properties_kind);
  writer.str(record.properties);
  writer.str(record.body);
}

bool decode_message(ByteReader& reader, MessageAppendedRecord& record) {
  return reader.u64(record.queue_id) && reader.str(record.message_id) && reader.u8(record.priority) &&
         reader.u8(record.flags) && reader.u32(record.delivery_count) && reader.i64(record.published_at_ms) &&
         reader.i64(record.expires_at_ms) && reader.i64(record.deliver_at_ms) &&
         reader.u8(record.properties_kind) && reader.str(record.properties) && reader.str(record.body);
}

}  // namespace

std::string encode(const QueueCreatedRecord& record) {
  std::string out;
  ByteWriter writer(out);
  writer.u64(record.queue_id);
  writer.str(record.vhost);
  writer.str(record.name);
  encode_settings(writer, record.settings);
  return out;
}

std::string encode_queue_changed(uint64_t queue_id, const QueueSettings& settings) {
  std::string out;
  ByteWriter writer(out);
  writer.u64(queue_id);
  encode_settings(writer, settings);
  return out;
}

std::string encode(const QueueDeletedRecord& record) {
  std::string out;
  ByteWriter(out).u64(record.queue_id);
  return out;
}

std::string encode_plugin_settings(const std::string& plugin, const std::string& settings) {
  std::string out;
  ByteWriter writer(out);
  writer.str(plugin);
  writer.str(settings);
  return out;
}

std::string encode(const MessageAppendedRecord& record) {
  std::string out;
  out.reserve(64 + record.message_id.size() + record.properties.size() + record.body.size());
  ByteWriter writer(out);
  encode_message(writer, record);
  return out;
}

std::string encode(const MessageSettledRecord& record) {
  std::string out;
  ByteWriter writer(out);
  writer.u64(record.queue_id);
  writer.u64(record.message_key);
  writer.u8(static_cast<uint8_t>(record.reason));
  return out;
}

std::string encode(const MessageReturnedRecord& record) {
  std::string out;
  ByteWriter writer(out);
  writer.u64(record.queue_id);
  writer.u64(record.message_key);
  writer.u32(record.delivery_count);
  return out;
}

std::string encode(const MessageMovedRecord& record) {
  std::string out;
  ByteWriter writer(out);
  writer.u64(record.old_key);
  encode_message(writer, record.message);
  return out;
}

Result<QueueCreatedRecord> decode_queue_created(std::string_view payload) {
  ByteReader reader(payload);
  QueueCreatedRecord record;
  if (!reader.u64(record.queue_id) || !reader.str(record.vhost) || !reader.str(record.name) ||
      !decode_settings(reader, record.settings)) {
    return malformed("queue-created");
  }
  return record;
}

Result<QueueCreatedRecord> decode_queue_changed(std::string_view payload) {
  ByteReader reader(payload);
  QueueCreatedRecord record;
  if (!reader.u64(record.queue_id) || !decode_settings(reader, record.settings)) {
    return malformed("queue-changed");
  }
  return record;
}

Result<QueueDeletedRecord> decode_queue_deleted(std::string_view payload) {
  ByteReader reader(payload);
  QueueDeletedRecord record;
  if (!reader.u64(record.queue_id)) return malformed("queue-deleted");
  return record;
}

Result<MessageAppendedRecord> decode_message_appended(std::string_view payload) {
  ByteReader reader(payload);
  MessageAppendedRecord record;
  if (!decode_message(reader, record)) return malformed("message-appended");
  return record;
}

Result<MessageSettledRecord> decode_message_settled(std::string_view payload) {
  ByteReader reader(payload);
  MessageSettledRecord record;
  uint8_t reason = 0;
  if (!reader.u64(record.queue_id) || !reader.u64(record.message_key) || !reader.u8(reason)) {
    return malformed("message-settled");
  }
  record.reason = static_cast<SettleReason>(reason);
  return record;
}

Result<MessageReturnedRecord> decode_message_returned(std::string_view payload) {
  ByteReader reader(payload);
  MessageReturnedRecord record;
  if (!reader.u64(record.queue_id) || !reader.u64(record.message_key) || !reader.u32(record.delivery_count)) {
    return malformed("message-returned");
  }
  return record;
}

Result<MessageMovedRecord> decode_message_moved(std::string_view payload) {
  ByteReader reader(payload);
  MessageMovedRecord record;
  if (!reader.u64(record.old_key) || !decode_message(reader, record.message)) {
    return malformed("message-moved");
  }
  return record;
}

std::string encode_properties(const MessageProperties& properties) {
  std::string out;
  ByteWriter writer(out);
  writer.str(properties.content_type);
  writer.str(properties.correlation_id);
  writer.str(properties.reply_to);
  writer.u8(static_cast<uint8_t>(properties.encoding));
  writer.u32(static_cast<uint32_t>(properties.headers.size()));
  for (const auto& [name, value] : properties.headers) {
    writer.str(name);
    writer.str(value);
  }
  writer.str(properties.amqp_properties);
  writer.str(properties.amqp_exchange);
  writer.str(properties.amqp_routing_key);
  return out;
}

Result<MessageProperties> decode_properties(std::string_view encoded) {
  ByteReader reader(encoded);
  MessageProperties properties;
  uint8_t encoding = 0;
  uint32_t count = 0;
  if (!reader.str(properties.content_type) || !reader.str(properties.correlation_id) ||
      !reader.str(properties.reply_to) || !reader.u8(encoding) || !reader.u32(count)) {
    return malformed("message-properties");
  }
  properties.encoding = encoding == 1 ? BodyEncoding::kBase64 : BodyEncoding::kUtf8;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!reader.str(name) || !reader.str(value)) return malformed("message-properties");
    properties.headers.emplace_back(std::move(name), std::move(value));
  }
  // Written since format version 1.1; records from before end here.
  if (reader.remaining() > 0 &&
      !(reader.str(properties.amqp_properties) && reader.str(properties.amqp_exchange) &&
        reader.str(properties.amqp_routing_key))) {
    return malformed("message-properties");
  }
  return properties;
}

}  // namespace ballast::broker

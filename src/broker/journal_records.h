#pragma once
// The broker's journal record payloads (docs/formats/journal.md, "Record types"): encoding
// for append, decoding for recovery. Decoding never aborts: a payload that does not parse is
// a STORAGE_CORRUPT error naming the record type and sequence number.
// Thread-safe: pure functions.

#include <cstdint>
#include <string>

#include "broker/message.h"
#include "broker/queue_settings.h"
#include "util/result.h"

namespace ballast::broker {

enum class RecordType : uint16_t {
  kQueueCreated = 1,
  kQueueChanged = 2,
  kQueueDeleted = 3,
  kMessageAppended = 4,
  kMessageSettled = 5,
  kMessageReturned = 6,
  kMessageMoved = 7,
  kExchangesChanged = 9,  // a vhost's whole exchange table (ExchangeTable::encode); 8 is reserved
  kPluginSettings = 10,   // one plug-in's run-time settings (opaque to the broker; plugins/plugin_overlay.h)
};

enum class SettleReason : uint8_t {
  kAcked = 1,
  kDeadLettered = 2,
  kExpired = 3,
  kPurged = 4,
  kDropped = 5,
};

struct QueueCreatedRecord {
  uint64_t queue_id = 0;
  std::string vhost;
  std::string name;
  QueueSettings settings;
};

struct QueueDeletedRecord {
  uint64_t queue_id = 0;
};

// Properties kind 1 = MessageProperties (native); others are kept opaque for later front ends.
inline constexpr uint8_t kNativeProperties = 1;

struct MessageAppendedRecord {
  uint64_t queue_id = 0;
  std::string message_id;
  uint8_t priority = 0;
  uint8_t flags = 0;
  uint32_t delivery_count = 0;
  int64_t published_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0 = never
  int64_t deliver_at_ms = 0;  // 0 = at once
  uint8_t properties_kind = kNativeProperties;
  std::string properties;  // encoded per kind
  std::string body;
};

struct MessageSettledRecord {
  uint64_t queue_id = 0;
  uint64_t message_key = 0;
  SettleReason reason = SettleReason::kAcked;
};

struct MessageReturnedRecord {
  uint64_t queue_id = 0;
  uint64_t message_key = 0;
  uint32_t delivery_count = 0;
};

struct MessageMovedRecord {
  uint64_t old_key = 0;
  MessageAppendedRecord message;
};

std::string encode(const QueueCreatedRecord& record);
std::string encode_queue_changed(uint64_t queue_id, const QueueSettings& settings);
std::string encode(const QueueDeletedRecord& record);
std::string encode(const MessageAppendedRecord& record);
std::string encode(const MessageSettledRecord& record);
std::string encode(const MessageReturnedRecord& record);
std::string encode(const MessageMovedRecord& record);
// Record type 10: str plugin, str settings.
std::string encode_plugin_settings(const std::string& plugin, const std::string& settings);

Result<QueueCreatedRecord> decode_queue_created(std::string_view payload);
Result<QueueCreatedRecord> decode_queue_changed(std::string_view payload);  // vhost, name empty
Result<QueueDeletedRecord> decode_queue_deleted(std::string_view payload);
Result<MessageAppendedRecord> decode_message_appended(std::string_view payload);
Result<MessageSettledRecord> decode_message_settled(std::string_view payload);
Result<MessageReturnedRecord> decode_message_returned(std::string_view payload);
Result<MessageMovedRecord> decode_message_moved(std::string_view payload);

std::string encode_properties(const MessageProperties& properties);
Result<MessageProperties> decode_properties(std::string_view encoded);

}  // namespace ballast::broker

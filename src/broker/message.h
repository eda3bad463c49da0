#pragma once
// Messages as the broker core sees them, independent of any wire protocol.
// Plain values; not thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ballast::broker {

// How a body was given over HTTP and should be given back: "utf8" or "base64". The broker
// stores the bytes; the encoding is only remembered for the answer.
enum class BodyEncoding : uint8_t { kUtf8, kBase64 };

struct MessageProperties {
  std::string content_type;
  std::string correlation_id;
  std::string reply_to;
  BodyEncoding encoding = BodyEncoding::kUtf8;
  std::vector<std::pair<std::string, std::string>> headers;  // in the order given
  // The AMQP 0-9-1 content-header property flags and list exactly as a client sent them (empty
  // for messages published over HTTP); kept opaque so that AMQP consumers get them byte-identical.
  std::string amqp_properties;
  // The exchange and routing key an AMQP message was published with (empty over HTTP: a
  // consumer then sees the default exchange and the queue's name).
  std::string amqp_exchange;
  std::string amqp_routing_key;

  bool operator==(const MessageProperties&) const = default;
};

// One message to publish.
struct PublishRequest {
  std::string id;    // empty = the broker assigns one
  std::string body;  // raw bytes (already base64-decoded)
  MessageProperties properties;
  uint8_t priority = 0;  // 0..9, higher first
  std::optional<uint32_t> delay_seconds;
  // The message's own TTL: the shortest of these and the queue's message_ttl_ms applies.
  std::optional<uint32_t> ttl_seconds;  // HTTP's ttl_seconds
  std::optional<uint64_t> ttl_ms;       // AMQP's expiration, in milliseconds
};

struct PublishedMessage {
  std::string id;
  bool duplicate = false;  // true: an earlier publish with this id inside the dedup window won
};

enum class Durability : uint8_t {
  kFsync,     // covered by an fdatasync before the answer
  kInterval,  // written; synced within storage.sync_interval_ms (a documented loss window)
};

struct PublishOutcome {
  std::vector<PublishedMessage> messages;
  Durability durability = Durability::kFsync;
};

// One lease, as numbers: what a receipt string encodes. Front ends that never show receipts to
// their clients (AMQP) keep these instead and settle with ack_leases / nack_leases.
struct LeaseRef {
  uint64_t queue_id = 0;
  uint64_t key = 0;
  uint64_t nonce = 0;
};

// One message handed to a consumer (receive) or shown to an operator (peek).
struct DeliveredMessage {
  std::string id;
  std::string body;
  MessageProperties properties;
  uint8_t priority = 0;
  int64_t published_at_ms = 0;  // wall clock, ms since the epoch
  std::optional<int64_t> expires_at_ms;
  uint32_t delivery_count = 0;  // deliveries including this one (peek: so far)
  bool redelivered = false;
  std::string receipt;  // empty for peek, and when the request asked for no receipt strings
  LeaseRef lease;       // zero for peek
};

struct ReceiveRequest {
  uint32_t max_messages = 1;                           // 1..1000
  uint32_t wait_ms = 0;                                // long poll; 0 = answer at once
  std::optional<uint32_t> visibility_timeout_seconds;  // none = the queue's default
  // AMQP semantics: the lease never expires; the message stays with this consumer until it is
  // acked or nacked (the front end nacks with requeue when the consumer goes away).
  bool hold_until_settled = false;
  // Non-zero: names this long poll so that cancel_receive() can end it early.
  uint64_t waiter_id = 0;
  // False: DeliveredMessage::receipt stays empty (the caller settles with the LeaseRef).
  bool receipt_strings = true;
};

}  // namespace ballast::broker

#pragma once
// Per-queue settings, as set by `PUT /api/v1/queues/{name}` and stored in the journal's
// queue-created / queue-changed records. Plain value; not thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace ballast::broker {

enum class Overflow : uint8_t {
  kRejectPublish,  // "reject-publish": publishes over the limit fail with QUEUE_LIMIT_REACHED
  kDropHead,       // "drop-head": the oldest ready message is dead-lettered (never silently)
};

std::string_view overflow_name(Overflow overflow);
Result<Overflow> parse_overflow(std::string_view text);

struct QueueSettings {
  std::optional<uint64_t> max_length;  // ready + delayed messages; none = unlimited
  std::optional<uint64_t> max_bytes;   // body bytes of ready + delayed messages
  Overflow overflow = Overflow::kRejectPublish;
  // Per-queue TTL in milliseconds (AMQP's x-message-ttl; HTTP's message_ttl_seconds x 1000 or
  // message_ttl_ms); none = no expiry.
  std::optional<uint64_t> message_ttl_ms;
  std::optional<uint32_t> delivery_limit;  // deliveries before dead-lettering; none = no limit
  // Dead letters go to (dead_letter_exchange, routing key dead_letter_queue). The default
  // exchange "" routes a key to the queue of that name (same vhost); an empty
  // dead_letter_queue means the vhost's "ballast.dead-letter". Other exchanges arrive with
  // AMQP, which sets them from x-dead-letter-exchange.
  std::string dead_letter_exchange;
  std::string dead_letter_queue;
  // Operator's explicit choice to discard dead letters instead (off by default: R3).
  bool dead_letter_drop = false;
  uint32_t dedup_window_seconds = 0;  // 0 = idempotent publish off
  uint32_t default_visibility_timeout_seconds = 30;
  // AMQP's x-max-priority: publish priorities are capped at this (0 = every message is equal,
  // as on an AMQP queue declared without it). None = priorities 0-9 as given (HTTP queues).
  std::optional<uint8_t> max_priority;
  // AMQP's declare flags, kept so that a redeclaration with other flags is refused as RabbitMQ
  // does. Every Ballast queue is journalled whatever `durable` says. auto_delete: the AMQP
  // front end deletes the queue when its last consumer goes.
  bool durable = true;
  bool auto_delete = false;
  // AMQP's x-expires: the AMQP front end deletes the queue once it has had no consumer and no
  // basic.get or declare for this long.
  std::optional<uint64_t> expires_ms;

  bool operator==(const QueueSettings&) const = default;
};

// Every vhost's default dead-letter queue: nothing is dropped silently (R3).
inline constexpr std::string_view kDeadLetterQueueName = "ballast.dead-letter";

// Where dead letters of a queue with these settings go.
struct DeadLetterTarget {
  std::string exchange;     // "" = the default exchange
  std::string routing_key;  // with the default exchange: the target queue's name
};
DeadLetterTarget dead_letter_target(const QueueSettings& settings);

// The JSON key names of the settings that differ between `a` and `b` (for
// QUEUE_EXISTS_DIFFERENT), in declaration order.
std::vector<std::string> differing_setting_keys(const QueueSettings& a, const QueueSettings& b);

// The largest per-queue TTL: as many milliseconds as 2^32 - 1 seconds (the seconds field's range).
inline constexpr uint64_t kMaxMessageTtlMs = uint64_t{UINT32_MAX} * 1000;

// A TTL in whole seconds, rounded up (what the seconds-only journal tag and HTTP field show).
inline uint64_t ttl_seconds_rounded_up(uint64_t ms) {
  return ms / 1000 + (ms % 1000 != 0 ? 1 : 0);
}

// Checks ranges (e.g. a visibility timeout of 0..43200 s) and the dead-letter target's name.
// Fails with INVALID_ARGUMENT naming the key.
Status validate_settings(const QueueSettings& settings);

}  // namespace ballast::broker

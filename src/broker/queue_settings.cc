#include "broker/queue_settings.h"

namespace ballast::broker {

std::string_view overflow_name(Overflow overflow) {
  return overflow == Overflow::kDropHead ? "drop-head" : "reject-publish";
}

Result<Overflow> parse_overflow(std::string_view text) {
  if (text == "reject-publish") return Overflow::kRejectPublish;
  if (text == "drop-head") return Overflow::kDropHead;
  return Error(ErrorCode::kInvalidArgument, fmt::format("overflow \"{}\" is not a known policy", text),
               "use \"reject-publish\" or \"drop-head\"");
}

DeadLetterTarget dead_letter_target(const QueueSettings& settings) {
  return DeadLetterTarget{settings.dead_letter_exchange, settings.dead_letter_queue.empty()
                                                             ? "ballast.dead-letter"
                                                             : settings.dead_letter_queue};
}

std::vector<std::string> differing_setting_keys(const QueueSettings& a, const QueueSettings& b) {
  std::vector<std::string> keys;
  if (a.max_length != b.max_length) keys.emplace_back("max_length");
  if (a.max_bytes != b.max_bytes) keys.emplace_back("max_bytes");
  if (a.overflow != b.overflow) keys.emplace_back("overflow");
  if (a.message_ttl_ms != b.message_ttl_ms) keys.emplace_back("message_ttl_ms");
  if (a.delivery_limit != b.delivery_limit) keys.emplace_back("delivery_limit");
  if (a.dead_letter_exchange != b.dead_letter_exchange) keys.emplace_back("dead_letter_exchange");
  if (a.dead_letter_queue != b.dead_letter_queue) keys.emplace_back("dead_letter_queue");
  if (a.dead_letter_drop != b.dead_letter_drop) keys.emplace_back("dead_letter_drop");
  if (a.dedup_window_seconds != b.dedup_window_seconds) keys.emplace_back("dedup_window_seconds");
  if (a.default_visibility_timeout_seconds != b.default_visibility_timeout_seconds) {
    keys.emplace_back("default_visibility_timeout_seconds");
  }
  if (a.max_priority != b.max_priority) keys.emplace_back("max_priority");
  if (a.durable != b.durable) keys.emplace_back("durable");
  if (a.auto_delete != b.auto_delete) keys.emplace_back("auto_delete");
  if (a.expires_ms != b.expires_ms) keys.emplace_back("expires_ms");
  return keys;
}

namespace {

constexpr uint32_t kMaxVisibilitySeconds = 12 * 3600;
constexpr uint32_t kMaxDedupWindowSeconds = 7 * 24 * 3600;

Error out_of_range(std::string_view key, uint64_t value, uint64_t low, uint64_t high) {
  return Error(ErrorCode::kInvalidArgument, fmt::format("{} = {} is outside {}..{}", key, value, low, high),
               fmt::format("set {} between {} and {}", key, low, high));
}

}  // namespace

Status validate_settings(const QueueSettings& settings) {
  if (settings.max_length && *settings.max_length == 0) return out_of_range("max_length", 0, 1, UINT64_MAX);
  if (settings.max_bytes && *settings.max_bytes == 0) return out_of_range("max_bytes", 0, 1, UINT64_MAX);
  if (settings.delivery_limit && *settings.delivery_limit == 0) {
    return out_of_range("delivery_limit", 0, 1, UINT32_MAX);
  }
  if (settings.message_ttl_ms &&
      (*settings.message_ttl_ms == 0 || *settings.message_ttl_ms > kMaxMessageTtlMs)) {
    return out_of_range("message_ttl_ms", *settings.message_ttl_ms, 1, kMaxMessageTtlMs);
  }
  if (settings.default_visibility_timeout_seconds > kMaxVisibilitySeconds) {
    return out_of_range("default_visibility_timeout_seconds", settings.default_visibility_timeout_seconds, 0,
                        kMaxVisibilitySeconds);
  }
  if (settings.dedup_window_seconds > kMaxDedupWindowSeconds) {
    return out_of_range("dedup_window_seconds", settings.dedup_window_seconds, 0, kMaxDedupWindowSeconds);
  }
  if (settings.dead_letter_drop && !settings.dead_letter_queue.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("dead_letter_drop = true and dead_letter_queue = \"{}\" contradict "
                             "each other",
                             settings.dead_letter_queue),
                 "set only one of them");
  }
  return ok_status();
}

}  // namespace ballast::broker

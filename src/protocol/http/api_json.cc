#include "protocol/http/api_json.h"

#include <algorithm>
#include <limits>

#include "util/base64.h"
#include "util/nearest_name.h"
#include "util/utf8.h"

namespace ballast::http {

using nlohmann::json;

namespace {

constexpr uint32_t kMaxWaitSeconds = 20;
constexpr uint32_t kMaxReceive = 1000;

Error invalid(std::string message, std::string fix) {
  return Error(ErrorCode::kInvalidArgument, std::move(message), std::move(fix));
}

Result<json> parse_object(std::string_view body, bool empty_is_object) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos && empty_is_object) return json::object();
  json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return invalid("the request body is not valid JSON",
                   "send a JSON object, e.g. {\"body\": \"hello\"}, with Content-Type: application/json");
  }
  if (!parsed.is_object())
    return invalid("the request body is JSON but not an object", "send a JSON object {...}");
  return parsed;
}

Status check_keys(const json& object, std::initializer_list<std::string_view> allowed,
                  std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    const auto nearest = nearest_name(key, std::vector<std::string_view>(allowed), 3);
    std::string fix = nearest ? fmt::format("did you mean \"{}\"?", *nearest)
                              : fmt::format("use only: {}", fmt::join(allowed, ", "));
    return invalid(fmt::format("unknown key \"{}\" in {}", key, where), std::move(fix));
  }
  return ok_status();
}

template <typename T>
Result<std::optional<T>> optional_number(const json& object, std::string_view key, uint64_t max,
                                         std::string_view where) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::optional<T>();
  if (!found->is_number_unsigned() && !(found->is_number_integer() && found->get<int64_t>() >= 0)) {
    return invalid(
        fmt::format("{}{} must be a whole number from 0 to {}, not {}", where, key, max, found->dump()),
        fmt::format("send \"{}\": <number>", key));
  }
  const uint64_t value = found->get<uint64_t>();
  if (value > max) {
    return invalid(fmt::format("{}{} = {} is over the maximum {}", where, key, value, max),
                   fmt::format("send {} of at most {}", key, max));
  }
  return std::optional<T>(static_cast<T>(value));
}

Result<std::optional<std::string>> optional_string(const json& object, std::string_view key,
                                                   std::string_view where) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::optional<std::string>();
  if (!found->is_string()) {
    return invalid(fmt::format("{}{} must be a string, not {}", where, key, found->dump()),
                   fmt::format("send \"{}\": \"...\"", key));
  }
  return std::optional<std::string>(found->get<std::string>());
}

Result<std::optional<bool>> optional_bool(const json& object, std::string_view key, std::string_view where) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::optional<bool>();
  if (!found->is_boolean()) {
    return invalid(fmt::format("{}{} must be true or false, not {}", where, key, found->dump()),
                   fmt::format("send \"{}\": true or false", key));
  }
  return std::optional<bool>(found->get<bool>());
}

Result<broker::PublishRequest> parse_message(const json& object, std::string_view where) {
  if (!object.is_object())
    return invalid(fmt::format("{}is not a JSON object", where), "send {\"body\": \"...\"}");
  auto keys = check_keys(object,
                         {"body", "encoding", "headers", "content_type", "correlation_id", "reply_to",
                          "priority", "id", "delay_seconds", "ttl_seconds"},
                         fmt::format("{}the message", where));
  if (!keys) return std::move(keys).error();
  broker::PublishRequest request;
  auto body = optional_string(object, "body", where);
  if (!body) return std::move(body).error();
  if (!*body)
    return invalid(fmt::format("{}body is missing", where), "send \"body\": \"...\" (base64 for bytes)");
  auto encoding = optional_string(object, "encoding", where);
  if (!encoding) return std::move(encoding).error();
  const std::string encoding_name = encoding->value_or("utf8");
  if (encoding_name == "base64") {
    auto decoded = base64_decode(**body);
    if (!decoded) {
      return invalid(fmt::format("{}body is not valid base64", where),
                     "encode the bytes with standard base64 (RFC 4648, padded)");
    }
    request.body = std::move(*decoded);
    request.properties.encoding = broker::BodyEncoding::kBase64;
  } else if (encoding_name == "utf8") {
    request.body = std::move(**body);
  } else {
    return invalid(fmt::format("{}encoding \"{}\" is not known", where, encoding_name),
                   "use \"utf8\" or \"base64\"");
  }
  for (auto [key, target] :
       {std::pair{"content_type", &request.properties.content_type},
        std::pair{"correlation_id", &request.properties.correlation_id},
        std::pair{"reply_to", &request.properties.reply_to}, std::pair{"id", &request.id}}) {
    auto value = optional_string(object, key, where);
    if (!value) return std::move(value).error();
    if (*value) *target = std::move(**value);
  }
  if (auto headers = object.find("headers"); headers != object.end() && !headers->is_null()) {
    if (!headers->is_object())
      return invalid(fmt::format("{}headers must be an object of strings", where),
                     "send \"headers\": {\"name\": \"value\"}");
    for (const auto& [name, value] : headers->items()) {
      if (!value.is_string()) {
        return invalid(fmt::format("{}header \"{}\" must be a string, not {}", where, name, value.dump()),
                       "send header values as strings");
      }
      request.properties.headers.emplace_back(name, value.get<std::string>());
    }
  }
  auto priority = optional_number<uint8_t>(object, "priority", 9, where);
  if (!priority) return std::move(priority).error();
  request.priority = priority->value_or(0);
  auto delay = optional_number<uint32_t>(object, "delay_seconds", 365u * 24 * 3600, where);
  if (!delay) return std::move(delay).error();
  request.delay_seconds = *delay;
  auto ttl = optional_number<uint32_t>(object, "ttl_seconds", std::numeric_limits<uint32_t>::max(), where);
  if (!ttl) return std::move(ttl).error();
  request.ttl_seconds = *ttl;
  return request;
}

// The queue TTL in ms from message_ttl_seconds (the original field) or message_ttl_ms; both
// may be sent (as GET shows them) if they agree: the seconds are the ms rounded up.
Result<std::optional<uint64_t>> parse_message_ttl(const json& object) {
  auto seconds =
      optional_number<uint32_t>(object, "message_ttl_seconds", std::numeric_limits<uint32_t>::max(), "");
  if (!seconds) return std::move(seconds).error();
  auto ms = optional_number<uint64_t>(object, "message_ttl_ms", broker::kMaxMessageTtlMs, "");
  if (!ms) return std::move(ms).error();
  if (*seconds && **seconds == 0) {
    return invalid("message_ttl_seconds = 0 would expire every message at once",
                   "set message_ttl_seconds to 1 or more, or leave it out for no expiry");
  }
  if (*ms && **ms == 0) {
    return invalid("message_ttl_ms = 0 would expire every message at once",
                   "set message_ttl_ms to 1 or more, or leave it out for no expiry");
  }
  if (*seconds && *ms && broker::ttl_seconds_rounded_up(**ms) != **seconds) {
    return invalid(fmt::format("message_ttl_seconds = {} and message_ttl_ms = {} disagree", **seconds, **ms),
                   "send only one of them (message_ttl_ms for a TTL that is not whole seconds)");
  }
  if (*ms) return *ms;
  if (*seconds) return std::optional<uint64_t>(uint64_t{**seconds} * 1000);
  return std::optional<uint64_t>();
}

}  // namespace

Result<broker::QueueSettings> parse_queue_settings(std::string_view body) {
  auto object = parse_object(body, true);
  if (!object) return std::move(object).error();
  auto keys = check_keys(
      *object,
      {"max_length", "max_bytes", "overflow", "message_ttl_seconds", "message_ttl_ms", "delivery_limit",
       "dead_letter_queue", "dead_letter_drop", "dedup_window_seconds", "default_visibility_timeout_seconds"},
      "the queue settings");
  if (!keys) return std::move(keys).error();
  constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
  constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();
  broker::QueueSettings settings;
  auto max_length = optional_number<uint64_t>(*object, "max_length", kMax64, "");
  if (!max_length) return std::move(max_length).error();
  auto max_bytes = optional_number<uint64_t>(*object, "max_bytes", kMax64, "");
  if (!max_bytes) return std::move(max_bytes).error();
  auto ttl = parse_message_ttl(*object);
  if (!ttl) return std::move(ttl).error();
  auto limit = optional_number<uint32_t>(*object, "delivery_limit", kMax32, "");
  if (!limit) return std::move(limit).error();
  auto dedup = optional_number<uint32_t>(*object, "dedup_window_seconds", kMax32, "");
  if (!dedup) return std::move(dedup).error();
  auto visibility = optional_number<uint32_t>(*object, "default_visibility_timeout_seconds", kMax32, "");
  if (!visibility) return std::move(visibility).error();
  auto overflow = optional_string(*object, "overflow", "");
  if (!overflow) return std::move(overflow).error();
  auto dead_letter_queue = optional_string(*object, "dead_letter_queue", "");
  if (!dead_letter_queue) return std::move(dead_letter_queue).error();
  auto dead_letter_drop = optional_bool(*object, "dead_letter_drop", "");
  if (!dead_letter_drop) return std::move(dead_letter_drop).error();
  settings.max_length = *max_length;
  settings.max_bytes = *max_bytes;
  settings.message_ttl_ms = *ttl;
  settings.delivery_limit = *limit;
  settings.dedup_window_seconds = dedup->value_or(0);
  settings.default_visibility_timeout_seconds = visibility->value_or(30);
  if (*overflow) {
    auto parsed = broker::parse_overflow(**overflow);
    if (!parsed) return std::move(parsed).error();
    settings.overflow = *parsed;
  }
  settings.dead_letter_queue = dead_letter_queue->value_or("");
  settings.dead_letter_drop = dead_letter_drop->value_or(false);
  auto valid = broker::validate_settings(settings);
  if (!valid) return std::move(valid).error();
  return settings;
}

Result<std::vector<broker::PublishRequest>> parse_publish(std::string_view body) {
  auto object = parse_object(body, false);
  if (!object) return std::move(object).error();
  std::vector<broker::PublishRequest> requests;
  auto batch = object->find("messages");
  if (batch == object->end()) {
    auto single = parse_message(*object, "");
    if (!single) return std::move(single).error();
    requests.push_back(std::move(*single));
    return requests;
  }
  auto keys = check_keys(*object, {"messages"}, "a batch publish");
  if (!keys) return std::move(keys).error();
  if (!batch->is_array() || batch->empty()) {
    return invalid("messages must be a non-empty array", "send {\"messages\": [{\"body\": \"...\"}, ...]}");
  }
  for (size_t i = 0; i < batch->size(); ++i) {
    auto message = parse_message((*batch)[i], fmt::format("messages[{}]: ", i));
    if (!message) return std::move(message).error();
    requests.push_back(std::move(*message));
  }
  return requests;
}

Result<broker::ReceiveRequest> parse_receive(std::string_view body) {
  auto object = parse_object(body, true);
  if (!object) return std::move(object).error();
  auto keys = check_keys(*object, {"max", "wait_seconds", "visibility_timeout_seconds"}, "a receive");
  if (!keys) return std::move(keys).error();
  auto max = optional_number<uint32_t>(*object, "max", kMaxReceive, "");
  if (!max) return std::move(max).error();
  auto wait = optional_number<uint32_t>(*object, "wait_seconds", kMaxWaitSeconds, "");
  if (!wait) return std::move(wait).error();
  auto visibility = optional_number<uint32_t>(*object, "visibility_timeout_seconds", 12 * 3600, "");
  if (!visibility) return std::move(visibility).error();
  broker::ReceiveRequest request;
  request.max_messages = max->value_or(1);
  if (request.max_messages == 0) return invalid("max = 0 asks for nothing", "ask for 1 to 1000 messages");
  request.wait_ms = wait->value_or(0) * 1000;
  request.visibility_timeout_seconds = *visibility;
  return request;
}

Result<SettleRequest> parse_settle(std::string_view body, std::string_view kind) {
  auto object = parse_object(body, false);
  if (!object) return std::move(object).error();
  const bool extend = kind == "extend";
  auto keys = extend           ? check_keys(*object, {"receipts", "visibility_timeout_seconds"}, "an extend")
              : kind == "nack" ? check_keys(*object, {"receipts", "requeue"}, "a nack")
                               : check_keys(*object, {"receipts"}, "an ack");
  if (!keys) return std::move(keys).error();
  SettleRequest request;
  auto receipts = object->find("receipts");
  if (receipts == object->end() || !receipts->is_array() || receipts->empty()) {
    return invalid("receipts must be a non-empty array of strings",
                   "send {\"receipts\": [\"...\"]} from /receive");
  }
  for (const auto& receipt : *receipts) {
    if (!receipt.is_string())
      return invalid(fmt::format("receipt {} is not a string", receipt.dump()),
                     "send the receipts as strings");
    request.receipts.push_back(receipt.get<std::string>());
  }
  auto requeue = optional_bool(*object, "requeue", "");
  if (!requeue) return std::move(requeue).error();
  request.requeue = requeue->value_or(true);
  if (extend) {
    auto seconds = optional_number<uint32_t>(*object, "visibility_timeout_seconds", 12 * 3600, "");
    if (!seconds) return std::move(seconds).error();
    if (!*seconds)
      return invalid("visibility_timeout_seconds is missing", "send the new lease length in seconds");
    request.visibility_timeout_seconds = **seconds;
  }
  return request;
}

Result<PluginQueueRequest> parse_plugin_queue(std::string_view body, std::string_view kind) {
  auto object = parse_object(body, false);
  if (!object) return std::move(object).error();
  const bool attach = kind == "attach";
  auto keys = attach ? check_keys(*object, {"queue", "policy"}, "an attach")
                     : check_keys(*object, {"queue"}, "a detach");
  if (!keys) return std::move(keys).error();
  auto queue = optional_string(*object, "queue", "");
  if (!queue) return std::move(queue).error();
  if (!*queue || (*queue)->empty()) {
    return invalid(fmt::format("the {} body has no \"queue\"", kind),
                   fmt::format("send {{\"queue\": \"mail.in\"{}}}", attach ? ", \"policy\": \"hold\"" : ""));
  }
  auto policy = optional_string(*object, "policy", "");
  if (!policy) return std::move(policy).error();
  return PluginQueueRequest{std::move(**queue), policy->value_or("")};
}

json queue_info_json(const broker::QueueInfo& info) {
  const broker::QueueSettings& s = info.settings;
  const auto optional = [](const auto& value) { return value ? json(*value) : json(nullptr); };
  json settings = {
      {"max_length", optional(s.max_length)},
      {"max_bytes", optional(s.max_bytes)},
      {"overflow", broker::overflow_name(s.overflow)},
      {"message_ttl_seconds",
       s.message_ttl_ms ? json(broker::ttl_seconds_rounded_up(*s.message_ttl_ms)) : json(nullptr)},
      {"message_ttl_ms", optional(s.message_ttl_ms)},
      {"delivery_limit", optional(s.delivery_limit)},
      {"dead_letter_queue", s.dead_letter_queue.empty() ? json(nullptr) : json(s.dead_letter_queue)},
      {"dead_letter_drop", s.dead_letter_drop},
      {"dedup_window_seconds", s.dedup_window_seconds},
      {"default_visibility_timeout_seconds", s.default_visibility_timeout_seconds}};
  return {{"name", info.name},
          {"vhost", info.vhost},
          {"settings", std::move(settings)},
          {"messages", info.stats.messages},
          {"in_flight", info.stats.in_flight},
          {"delayed", info.stats.delayed},
          {"bytes", info.stats.bytes},
          {"publish_rate", info.stats.publish_rate},
          {"deliver_rate", info.stats.deliver_rate},
          {"ack_rate", info.stats.ack_rate}};
}

json publish_outcome_json(const broker::PublishOutcome& outcome) {
  json messages = json::array();
  for (const auto& message : outcome.messages)
    messages.push_back({{"id", message.id}, {"duplicate", message.duplicate}});
  return {{"messages", std::move(messages)},
          {"durability", outcome.durability == broker::Durability::kFsync ? "fsync" : "interval"}};
}

json messages_json(const std::vector<broker::DeliveredMessage>& messages) {
  json list = json::array();
  for (const auto& message : messages) {
    const bool as_base64 =
        message.properties.encoding == broker::BodyEncoding::kBase64 || !is_valid_utf8(message.body);
    json headers = json::object();
    for (const auto& [name, value] : message.properties.headers) {
      headers[name] = is_valid_utf8(value) ? value : base64_encode(value);
    }
    json item = {{"id", message.id},
                 {"body", as_base64 ? base64_encode(message.body) : message.body},
                 {"encoding", as_base64 ? "base64" : "utf8"},
                 {"headers", std::move(headers)},
                 {"content_type", message.properties.content_type},
                 {"correlation_id", message.properties.correlation_id},
                 {"reply_to", message.properties.reply_to},
                 {"priority", message.priority},
                 {"published_at", message.published_at_ms},
                 {"delivery_count", message.delivery_count},
                 {"redelivered", message.redelivered}};
    if (!message.receipt.empty()) item["receipt"] = message.receipt;
    if (message.expires_at_ms) item["expires_at"] = *message.expires_at_ms;
    list.push_back(std::move(item));
  }
  return {{"messages", std::move(list)}};
}

json stats_json(const broker::BrokerStats& stats) {
  return {{"queues", stats.queues},
          {"messages", stats.totals.messages},
          {"in_flight", stats.totals.in_flight},
          {"delayed", stats.totals.delayed},
          {"bytes", stats.totals.bytes},
          {"publish_rate", stats.totals.publish_rate},
          {"deliver_rate", stats.totals.deliver_rate},
          {"ack_rate", stats.totals.ack_rate},
          {"journal_bytes", stats.journal_bytes},
          {"journal_segments", stats.journal_segments}};
}

json health_json(const broker::HealthReport& health) {
  json degraded = json::array();
  for (const auto& part : health.degraded) {
    degraded.push_back(
        {{"component", part.component}, {"code", error_code_name(part.code)}, {"message", part.message}});
  }
  const bool ok = health.degraded.empty() && health.damaged_queues.empty();
  return {{"status", ok ? "ok" : "degraded"}, {"degraded", std::move(degraded)}};
}

json error_json(const Error& error) {
  return {{"error", {{"code", error.code_name()}, {"message", error.message()}, {"fix", error.fix()}}}};
}

}  // namespace ballast::http

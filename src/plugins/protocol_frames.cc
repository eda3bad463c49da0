#include "plugins/protocol_frames.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/base64.h"

namespace ballast::plugins {

namespace {

using nlohmann::json;

constexpr std::string_view kProtocolFix =
    "the plug-in must answer as docs/plugins.md (\"Filter calls\") describes; fix or replace the plug-in. "
    "The broker restarts it";

Error protocol_error(std::string message) {
  return Error(ErrorCode::kPluginUnavailable, std::move(message), std::string(kProtocolFix));
}

std::string string_member(const json& frame, const char* key) {
  auto found = frame.find(key);
  if (found == frame.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

Result<std::vector<std::pair<std::string, std::string>>> headers_from(const json& headers) {
  if (!headers.is_object()) return protocol_error("a modify verdict's \"headers\" is not a JSON object");
  std::vector<std::pair<std::string, std::string>> result;
  for (const auto& [key, value] : headers.items()) {
    if (!value.is_string()) {
      return protocol_error(fmt::format("a modify verdict's header \"{}\" is not a string", key));
    }
    result.emplace_back(key, value.get<std::string>());
  }
  return result;
}

// Applies a modify verdict's headers and body to `message`, or changes nothing when either is bad.
Status apply_modify(const json& frame, broker::PublishRequest& message) {
  std::optional<std::vector<std::pair<std::string, std::string>>> new_headers;
  if (auto headers = frame.find("headers"); headers != frame.end()) {
    auto parsed = headers_from(*headers);
    if (!parsed) return parsed.error();
    new_headers = std::move(*parsed);
  }
  std::optional<std::string> new_body;
  if (auto body = frame.find("body_base64"); body != frame.end()) {
    if (body->is_string()) new_body = base64_decode(body->get<std::string>());
    if (!new_body) return protocol_error("a modify verdict's \"body_base64\" is not a base64 string");
  }
  if (new_headers) message.properties.headers = std::move(*new_headers);
  if (new_body) message.body = std::move(*new_body);
  return ok_status();
}

broker::FilterVerdict rejected(const PluginConfig& config, std::string_view vhost, std::string_view queue,
                               const json& frame) {
  std::string reason = string_member(frame, "reason");
  if (reason.empty()) reason = "no reason given";
  broker::FilterVerdict verdict;
  verdict.action = broker::FilterAction::kRefuse;
  verdict.refusal =
      Error(ErrorCode::kPluginRejected,
            fmt::format("filter plug-in \"{}\" rejected the message for queue \"{}\" (vhost \"{}\"): {}",
                        config.name, queue, vhost, reason),
            "change the message so that the filter accepts it, or ask the broker's operator about the "
            "filter's rules");
  return verdict;
}

json message_object(const std::string& id, const std::string& body,
                    const broker::MessageProperties& properties, uint8_t priority) {
  json headers = json::object();
  for (const auto& [key, value] : properties.headers) headers[key] = value;
  return json{{"id", id},
              {"body_base64", base64_encode(body)},
              {"content_type", properties.content_type},
              {"correlation_id", properties.correlation_id},
              {"reply_to", properties.reply_to},
              {"headers", headers},
              {"priority", priority}};
}

}  // namespace

json hello_frame(const PluginConfig& config, std::string_view broker_version) {
  json options = json::object();
  for (const auto& [key, value] : config.options) options[key] = value;
  return json{{"type", "hello"},     {"protocol", kProtocolVersion}, {"broker", broker_version},
              {"name", config.name}, {"kind", config.kind},          {"options", options}};
}

json ping_frame(uint64_t id) {
  return json{{"type", "ping"}, {"id", id}};
}

json filter_frame(uint64_t id, std::string_view vhost, std::string_view queue,
                  const broker::PublishRequest& message) {
  json body = message_object(message.id, message.body, message.properties, message.priority);
  return json{{"type", "filter"}, {"id", id}, {"vhost", vhost}, {"queue", queue}, {"message", body}};
}

json trigger_frame(uint64_t id, const TriggerWork& work) {
  const broker::DeliveredMessage& message = work.message;
  json body = message_object(message.id, message.body, message.properties, message.priority);
  body["published_at_ms"] = message.published_at_ms;
  if (!message.properties.amqp_routing_key.empty()) body["routing_key"] = message.properties.amqp_routing_key;
  return json{{"type", "trigger"},       {"id", id},       {"vhost", work.vhost}, {"queue", work.queue},
              {"attempt", work.attempt}, {"message", body}};
}

std::string_view trigger_result_name(TriggerResult result) {
  switch (result) {
    case TriggerResult::kDone:
      return "done";
    case TriggerResult::kRetry:
      return "retry";
    case TriggerResult::kFailed:
      return "failed";
  }
  return "unknown";
}

Result<TriggerOutcome> outcome_from_frame(const json& frame) {
  const std::string result = string_member(frame, "result");
  TriggerOutcome outcome;
  outcome.reason = string_member(frame, "reason");
  if (result == "done") {
    outcome.result = TriggerResult::kDone;
  } else if (result == "retry") {
    outcome.result = TriggerResult::kRetry;
  } else if (result == "failed") {
    outcome.result = TriggerResult::kFailed;
  } else {
    return Error(ErrorCode::kPluginUnavailable,
                 fmt::format("an outcome's result \"{}\" is not done, retry or failed", result),
                 "the plug-in must answer as docs/plugins.md (\"Trigger calls\") describes; fix or replace "
                 "the plug-in. The broker restarts it");
  }
  if (outcome.result != TriggerResult::kDone && outcome.reason.empty()) outcome.reason = "no reason given";
  return outcome;
}

Result<std::string> check_hello(const json& frame, const PluginConfig& config) {
  auto protocol = frame.find("protocol");
  if (protocol == frame.end() || !protocol->is_number_integer() ||
      protocol->get<int64_t>() != kProtocolVersion) {
    return protocol_error(fmt::format("its hello names protocol {}, but this broker speaks protocol {}",
                                      protocol == frame.end() ? "(none)" : protocol->dump(),
                                      kProtocolVersion));
  }
  auto capabilities = frame.find("capabilities");
  const bool has_kind = capabilities != frame.end() && capabilities->is_array() &&
                        std::any_of(capabilities->begin(), capabilities->end(), [&](const json& capability) {
                          return capability.is_string() && capability.get<std::string>() == config.kind;
                        });
  if (!has_kind) {
    return protocol_error(
        fmt::format("its hello's capabilities {} do not include \"{}\", its configured kind",
                    capabilities == frame.end() ? "(none)" : capabilities->dump(), config.kind));
  }
  std::string version = string_member(frame, "version");
  return version.empty() ? std::string("unknown") : version;
}

std::optional<uint64_t> frame_id(const json& frame) {
  auto id = frame.find("id");
  if (id == frame.end() || !id->is_number_unsigned()) return std::nullopt;
  return id->get<uint64_t>();
}

Result<broker::FilterVerdict> verdict_from_frame(const json& frame, const PluginConfig& config,
                                                 std::string_view vhost, std::string_view queue,
                                                 broker::PublishRequest& message) {
  const std::string action = string_member(frame, "action");
  broker::FilterVerdict verdict;
  if (action == "reject") return rejected(config, vhost, queue, frame);
  if (action == "accept") {
    verdict.action = broker::FilterAction::kAccept;
  } else if (action == "modify") {
    if (auto applied = apply_modify(frame, message); !applied) return applied.error();
    verdict.action = broker::FilterAction::kAccept;
  } else if (action == "reroute") {
    verdict.queue = string_member(frame, "queue");
    if (verdict.queue.empty()) return protocol_error("a reroute verdict has no \"queue\" string");
    verdict.action = broker::FilterAction::kReroute;
  } else {
    return protocol_error(
        fmt::format("a verdict's action \"{}\" is not accept, reject, modify or reroute", action));
  }
  verdict.message = std::move(message);
  return verdict;
}

}  // namespace ballast::plugins

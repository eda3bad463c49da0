#pragma once
// JSON <-> broker types for the HTTP API (field names: README and docs/http-api.md).
// Parsing never throws: malformed JSON, wrong types, unknown keys and out-of-range values are
// INVALID_ARGUMENT errors naming the field (and the message index in a batch).
// Thread-safe: pure functions.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "util/result.h"

namespace ballast::http {

struct SettleRequest {
  std::vector<std::string> receipts;
  bool requeue = true;
  uint32_t visibility_timeout_seconds = 0;
};

Result<broker::QueueSettings> parse_queue_settings(std::string_view body);
Result<std::vector<broker::PublishRequest>> parse_publish(std::string_view body);
// `max_wait_seconds` is the API's cap on long polls (20).
Result<broker::ReceiveRequest> parse_receive(std::string_view body);
// kind: "ack", "nack" or "extend" (extend requires visibility_timeout_seconds).
Result<SettleRequest> parse_settle(std::string_view body, std::string_view kind);

// The body of POST /api/v1/plugins/{name}/attach ({"queue", "policy"}) or .../detach
// ({"queue"}; kind "detach"). `policy` is empty when not given.
struct PluginQueueRequest {
  std::string queue;
  std::string policy;
};
Result<PluginQueueRequest> parse_plugin_queue(std::string_view body, std::string_view kind);

nlohmann::json queue_info_json(const broker::QueueInfo& info);
nlohmann::json publish_outcome_json(const broker::PublishOutcome& outcome);
nlohmann::json messages_json(const std::vector<broker::DeliveredMessage>& messages);
nlohmann::json stats_json(const broker::BrokerStats& stats);
nlohmann::json health_json(const broker::HealthReport& health);
nlohmann::json error_json(const Error& error);

}  // namespace ballast::http

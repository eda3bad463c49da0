#include "protocol/http/api_router.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <vector>

#include "protocol/http/api_json.h"
#include "protocol/http/api_responses.h"
#include "protocol/http/live_status.h"
#include "protocol/http/plugin_json.h"

namespace ballast::http {

using nlohmann::json;

namespace {

constexpr std::string_view kDefaultVhost = "/";
constexpr uint32_t kDefaultPeek = 10;
constexpr uint32_t kMaxPeek = 1000;

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (error != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// Decodes each segment of `path`. A malformed %-escape, or a "." or ".." segment (plain or
// as %2e), is refused: clients and proxies resolve dot segments (RFC 3986 5.2.4), so taking
// one as a name would address something else than the sender meant.
Result<std::vector<std::string>> split_path(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) {
      const std::string_view raw = path.substr(start, end - start);
      auto segment = percent_decode(raw);
      if (!segment) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("path {} has a malformed %-escape in \"{}\"", path, raw),
                     "escape reserved characters as %XX");
      }
      if (*segment == "." || *segment == "..") {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("path {} has the dot segment \"{}\", which is not a name", path, raw),
                     "remove \".\" and \"..\" segments from the path; queue and vhost names of "
                     "exactly \".\" or \"..\" cannot be used over HTTP");
      }
      segments.push_back(std::move(*segment));
    }
    start = end + 1;
  }
  return segments;
}

std::optional<std::string> query_value(std::string_view query, std::string_view key) {
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    if (pair.substr(0, pair.find('=')) == key) {
      return pair.find('=') == std::string_view::npos ? std::string()
                                                      : std::string(pair.substr(pair.find('=') + 1));
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Adapts a Broker callback into an HTTP reply.
template <typename T, typename Render>
broker::Callback<T> answer(ApiReply reply, Render render) {
  return [reply = std::move(reply), render = std::move(render)](Result<T> result) {
    if (!result) return reply(error_response(result.error()));
    if constexpr (std::is_void_v<T>) {
      reply(render());
    } else {
      reply(render(*result));
    }
  };
}

// A body must be labelled application/json (parameters such as charset allowed): anything else
// is refused before it is read as JSON, so that a form a web page posts to the loopback API
// (a browser "simple request", sent without a preflight) is never acted on.
std::optional<Error> content_type_refusal(const ApiRequest& request) {
  if (request.body.empty()) return std::nullopt;
  std::string media_type = request.content_type.substr(0, request.content_type.find(';'));
  std::erase_if(media_type, [](unsigned char c) { return std::isspace(c); });
  std::transform(media_type.begin(), media_type.end(), media_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (media_type == "application/json") return std::nullopt;
  return Error(
      ErrorCode::kUnsupportedMediaType,
      request.content_type.empty()
          ? fmt::format("the {} request to {} has a body but no Content-Type", request.method, request.target)
          : fmt::format("the {} request to {} has Content-Type \"{}\"; the API reads only JSON",
                        request.method, request.target, request.content_type),
      "send the body as JSON with Content-Type: application/json (curl: --json '{...}')");
}

}  // namespace

// Replaces invalid UTF-8 (e.g. echoed from a percent-decoded path) instead of throwing.
ApiResponse json_response(int status, const json& body) {
  return ApiResponse{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

ApiResponse not_found(const ApiRequest& request) {
  return error_response(
      Error(ErrorCode::kNotFound, fmt::format("no route for {} {}", request.method, request.target),
            "see the routes in docs/http-api.md: /api/v1/queues/{name}/..., /api/v1/plugins/..., "
            "/api/v1/stats, /api/v1/status, /healthz, /readyz"));
}

ApiResponse method_not_allowed(const ApiRequest& request, std::string_view allowed) {
  return error_response(Error(ErrorCode::kInvalidArgument,
                              fmt::format("{} is not allowed on {}", request.method, request.target),
                              fmt::format("use {}", allowed)),
                        405);
}

ApiResponse error_response(const Error& error, int status_override) {
  const int status = status_override != 0 ? status_override : error_code_info(error.code()).http_status;
  return json_response(status, error_json(error));
}

ApiRouter::ApiRouter(broker::Broker& broker, uint32_t max_long_polls, LiveSources live)
    : broker_(broker), max_long_polls_(max_long_polls), live_(live) {}

void ApiRouter::handle(ApiRequest request, ApiReply reply) {
  if (auto refused = content_type_refusal(request)) return reply(error_response(*refused));
  const size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const std::string query = question == std::string::npos ? "" : request.target.substr(question + 1);
  auto segments = split_path(path);
  if (!segments) return reply(error_response(segments.error()));
  const auto& s = *segments;
  if (s.size() == 1 && (s[0] == "healthz" || s[0] == "readyz")) {
    if (request.method != "GET") return reply(method_not_allowed(request, "GET"));
    const broker::HealthReport health = broker_.health();
    if (s[0] == "healthz") {
      json document = health_json(health);
      document["plugins"] = plugin_summary_json(
          live_.plugins != nullptr ? live_.plugins->list() : std::vector<plugins::PluginView>{});
      return reply(json_response(200, document));
    }
    return reply(
        json_response(health.serving ? 200 : 503, {{"status", health.serving ? "ready" : "not_ready"}}));
  }
  if (s.size() < 3 || s[0] != "api" || s[1] != "v1") return reply(not_found(request));
  if (s.size() == 3 && s[2] == "stats") {
    if (request.method != "GET") return reply(method_not_allowed(request, "GET"));
    return broker_.stats(answer<broker::BrokerStats>(
        std::move(reply), [](const auto& stats) { return json_response(200, stats_json(stats)); }));
  }
  if (s[2] == "plugins") return handle_plugins(s, request, reply);
  if (s.size() == 3 && s[2] == "status") {
    if (request.method != "GET") return reply(method_not_allowed(request, "GET"));
    return reply(live_status());
  }
  std::string vhost(kDefaultVhost);
  size_t queues_at = 2;
  if (s[2] == "vhosts" && s.size() >= 5 && s[4] == "queues") {
    vhost = s[3];
    queues_at = 4;
  }
  if (s[queues_at] != "queues" || s.size() > queues_at + 3) return reply(not_found(request));
  if (s.size() == queues_at + 1) {
    if (request.method != "GET") return reply(method_not_allowed(request, "GET"));
    return broker_.list_queues(
        vhost, answer<std::vector<broker::QueueInfo>>(std::move(reply), [](const auto& infos) {
          json list = json::array();
          for (const auto& info : infos) list.push_back(queue_info_json(info));
          return json_response(200, {{"queues", std::move(list)}});
        }));
  }
  const std::string& name = s[queues_at + 1];
  const std::string action = s.size() == queues_at + 3 ? s[queues_at + 2] : "";
  handle_queue(vhost, name, action, request, query, reply);
}

void ApiRouter::handle_queue(const std::string& vhost, const std::string& name, const std::string& action,
                             ApiRequest& request, const std::string& query, ApiReply& reply) {
  const std::string& method = request.method;
  if (action.empty()) {
    if (method == "PUT") {
      auto settings = parse_queue_settings(request.body);
      if (!settings) return reply(error_response(settings.error()));
      return broker_.create_queue(
          vhost, name, *settings,
          answer<broker::CreateQueueOutcome>(std::move(reply), [this, vhost, name](const auto& outcome) {
            return json_response(outcome.created ? 201 : 200,
                                 {{"name", name}, {"vhost", vhost}, {"created", outcome.created}});
          }));
    }
    if (method == "GET") {
      return broker_.queue_info(vhost, name,
                                answer<broker::QueueInfo>(std::move(reply), [](const auto& info) {
                                  return json_response(200, queue_info_json(info));
                                }));
    }
    if (method == "DELETE") {
      return broker_.delete_queue(vhost, name, answer<void>(std::move(reply), [name] {
                                    return json_response(200, {{"deleted", name}});
                                  }));
    }
    return reply(method_not_allowed(request, "PUT, GET or DELETE"));
  }
  if (action == "messages" && method == "GET") {
    uint32_t max = kDefaultPeek;
    if (auto text = query_value(query, "max")) {
      auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), max);
      if (error != std::errc() || end != text->data() + text->size() || max == 0 || max > kMaxPeek) {
        return reply(error_response(Error(ErrorCode::kInvalidArgument,
                                          fmt::format("max={} is not a number from 1 to {}", *text, kMaxPeek),
                                          "use ?max=N with N from 1 to 1000")));
      }
    }
    return broker_.peek(
        vhost, name, max,
        answer<std::vector<broker::DeliveredMessage>>(std::move(reply), [](const auto& messages) {
          return json_response(200, messages_json(messages));
        }));
  }
  if (method != "POST")
    return reply(method_not_allowed(request, action == "messages" ? "POST or GET" : "POST"));
  if (action == "messages") {
    auto messages = parse_publish(request.body);
    if (!messages) return reply(error_response(messages.error()));
    return broker_.publish(
        vhost, name, std::move(*messages),
        counting_refusals(answer<broker::PublishOutcome>(std::move(reply), [](const auto& outcome) {
          return json_response(201, publish_outcome_json(outcome));
        })));
  }
  if (action == "receive") return handle_receive(vhost, name, request.body, reply);
  if (action == "purge") {
    return broker_.purge_queue(vhost, name,
                               answer<broker::SettleOutcome>(std::move(reply), [](const auto& outcome) {
                                 return json_response(200, {{"purged", outcome.settled}});
                               }));
  }
  if (action == "ack" || action == "nack" || action == "extend") {
    auto settle = parse_settle(request.body, action);
    if (!settle) return reply(error_response(settle.error()));
    const std::string key = action == "ack" ? "acked" : action == "nack" ? "nacked" : "extended";
    auto render = answer<broker::SettleOutcome>(std::move(reply), [key](const auto& outcome) {
      return json_response(200, {{key, outcome.settled}});
    });
    if (action == "ack") return broker_.ack(vhost, name, std::move(settle->receipts), std::move(render));
    if (action == "nack")
      return broker_.nack(vhost, name, std::move(settle->receipts), settle->requeue, std::move(render));
    return broker_.extend(vhost, name, std::move(settle->receipts), settle->visibility_timeout_seconds,
                          std::move(render));
  }
  reply(not_found(request));
}

ApiResponse ApiRouter::live_status() const {
  LiveStatus status;
  status.health = broker_.health();
  status.blocked_publishers = live_.blocked_publishers.list();
  status.http_publish_refusals = publish_refusals_.last_minute(live_.clock.monotonic_ms());
  status.recent_events = live_.recent_events.newest_first();
  status.recent_events_total = live_.recent_events.total_added();
  status.recent_events_capacity = live_.recent_events.capacity();
  status.now_unix_ms = live_.clock.wall_ms();
  json document = live_status_json(status);
  document["plugins"] = plugins_json(
      live_.plugins != nullptr ? live_.plugins->list() : std::vector<plugins::PluginView>{})["plugins"];
  return json_response(200, document);
}

broker::Callback<broker::PublishOutcome> ApiRouter::counting_refusals(
    broker::Callback<broker::PublishOutcome> done) {
  return [this, done = std::move(done)](Result<broker::PublishOutcome> result) {
    if (!result && is_broker_wide_refusal(result.error().code()))
      publish_refusals_.add(result.error().code(), live_.clock.monotonic_ms());
    done(std::move(result));
  };
}

void ApiRouter::handle_receive(const std::string& vhost, const std::string& name, const std::string& body,
                               ApiReply& reply) {
  auto receive = parse_receive(body);
  if (!receive) return reply(error_response(receive.error()));
  const bool long_poll = receive->wait_ms > 0;
  if (long_poll && long_polls_.fetch_add(1) >= max_long_polls_) {
    long_polls_.fetch_sub(1);
    return reply(error_response(
        Error(ErrorCode::kServerBusy,
              fmt::format("{} long polls are already waiting, the limit set by limits.max_long_polls",
                          max_long_polls_),
              "poll with fewer connections, use wait_seconds = 0, or raise limits.max_long_polls")));
  }
  auto finish = [this, long_poll, reply = std::move(reply)](ApiResponse response) {
    if (long_poll) long_polls_.fetch_sub(1);
    reply(std::move(response));
  };
  broker_.receive(vhost, name, *receive,
                  answer<std::vector<broker::DeliveredMessage>>(std::move(finish), [](const auto& messages) {
                    return json_response(200, messages_json(messages));
                  }));
}

}  // namespace ballast::http

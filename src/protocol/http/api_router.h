#pragma once
// Routes one HTTP request of the API (/api/v1/..., /healthz, /readyz) to a Broker call and
// turns the answer into a JSON response. No sockets here: http_server.cc feeds it.
// GET /api/v1/status also reads the LiveSources (blocked publishers, recent fault events, the
// plug-ins) and the publishes this router refused for a broker-wide reason
// (protocol/http/live_status.h); /api/v1/plugins/... go to the LiveSources' PluginControl.
// Thread-safe: handle() may be called from any network thread; the reply callback runs
// exactly once, on the broker thread, the plug-in host's thread (plug-in routes), the thread
// that stops the host, or the calling thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "plugins/plugin_control.h"
#include "protocol/http/publish_refusals.h"
#include "protocol/net/blocked_publishers.h"
#include "util/clock.h"
#include "util/recent_events.h"

namespace ballast::http {

struct ApiRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, e.g. "/api/v1/queues/jobs/messages?max=5"
  std::string body;
  std::string content_type;  // the Content-Type header, as sent; empty when absent
};

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

using ApiReply = std::function<void(ApiResponse)>;

// What GET /api/v1/status reads besides the broker. Each must outlive the router.
struct LiveSources {
  const net::BlockedPublishers& blocked_publishers;  // filled by the AMQP front end
  const log::RecentEventRing& recent_events;         // log::recent_fault_events() in ballastd
  const Clock& clock;
  plugins::PluginControl* plugins = nullptr;  // the plug-in host; null = no plug-in routes
};

class ApiRouter {
 public:
  // `broker` must outlive the router.
  ApiRouter(broker::Broker& broker, uint32_t max_long_polls, LiveSources live);

  void handle(ApiRequest request, ApiReply reply);

 private:
  void handle_queue(const std::string& vhost, const std::string& name, const std::string& action,
                    ApiRequest& request, const std::string& query, ApiReply& reply);
  // /api/v1/plugins/... (api_plugin_routes.cc); `segments` start with "api", "v1", "plugins".
  void handle_plugins(const std::vector<std::string>& segments, ApiRequest& request, ApiReply& reply);
  void handle_receive(const std::string& vhost, const std::string& name, const std::string& body,
                      ApiReply& reply);
  ApiResponse live_status() const;
  // Counts a publish refused for a broker-wide reason, then answers.
  broker::Callback<broker::PublishOutcome> counting_refusals(broker::Callback<broker::PublishOutcome> done);

  broker::Broker& broker_;
  const uint32_t max_long_polls_;
  const LiveSources live_;
  std::atomic<uint32_t> long_polls_{0};
  PublishRefusals publish_refusals_;
};

// The response for an error: its HTTP status and {"error": {"code", "message", "fix"}}.
ApiResponse error_response(const Error& error, int status_override = 0);

}  // namespace ballast::http

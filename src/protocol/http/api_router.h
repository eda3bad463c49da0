#pragma once
// Routes one HTTP request of the API (/api/v1/..., /healthz, /readyz) to a Broker call and
// turns the answer into a JSON response. No sockets here: http_server.cc feeds it.
// Thread-safe: handle() may be called from any network thread; the reply callback runs
// exactly once, on the broker thread or the calling thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "broker/broker.h"

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

class ApiRouter {
 public:
  // `broker` must outlive the router.
  ApiRouter(broker::Broker& broker, uint32_t max_long_polls);

  void handle(ApiRequest request, ApiReply reply);

 private:
  void handle_queue(const std::string& vhost, const std::string& name, const std::string& action,
                    ApiRequest& request, const std::string& query, ApiReply& reply);
  void handle_receive(const std::string& vhost, const std::string& name, const std::string& body,
                      ApiReply& reply);

  broker::Broker& broker_;
  const uint32_t max_long_polls_;
  std::atomic<uint32_t> long_polls_{0};
};

// The response for an error: its HTTP status and {"error": {"code", "message", "fix"}}.
ApiResponse error_response(const Error& error, int status_override = 0);

}  // namespace ballast::http

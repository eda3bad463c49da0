#pragma once
// The CLI's client for ballastd's HTTP API: one synchronous HTTP/1.1 request per call over a
// keep-alive connection. Server errors become Errors with the server's code, message and fix;
// a server that cannot be reached is SERVER_UNREACHABLE naming the URL and the OS error.
// Not thread-safe: one per CLI invocation.

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "util/result.h"

namespace ballast::tools {

struct ServerUrl {
  std::string host;
  std::string port;
};

// Parses "http://host:port" (port defaults to 80; https is refused with INVALID_ARGUMENT).
Result<ServerUrl> parse_server_url(const std::string& url);

// "/api/v1/queues/NAME..." for vhost "/", else "/api/v1/vhosts/VHOST/queues/NAME...",
// with both names percent-encoded.
std::string queue_path(const std::string& vhost, const std::string& queue, const std::string& action = "");
std::string percent_encode(const std::string& text);

class ApiClient {
 public:
  ApiClient(std::string url_text, ServerUrl url);
  ~ApiClient();

  // Sends the request; returns the parsed JSON body of a 2xx answer.
  Result<nlohmann::json> call(const std::string& method, const std::string& target,
                              const nlohmann::json* body = nullptr);

 private:
  struct Connection;
  Status connect();
  std::string url_text_;
  ServerUrl url_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace ballast::tools

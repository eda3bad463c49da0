#pragma once
// A small synchronous HTTP/1.1 client for the CLI, talking to one server over one kept-alive
// connection. It knows nothing of the Ballast API: any status is a successful exchange.
// Not thread-safe: the owner serializes calls.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tools/server_url.h"
#include "util/result.h"

namespace boost::system {
class error_code;
}  // namespace boost::system

namespace ballast::tools {

enum class HttpMethod { kGet, kPut, kPost, kDelete };

// "GET", "PUT", "POST" or "DELETE".
std::string_view http_method_name(HttpMethod method);

struct HttpResponse {
  int status = 0;    // e.g. 201
  std::string body;  // as received, possibly empty
};

class HttpClient {
 public:
  // The largest answer accepted; larger ones fail with REQUEST_TOO_LARGE.
  static constexpr uint64_t kMaxResponseBytes = uint64_t{1} << 30;

  // Connects lazily, on the first request. Each request (connecting included) must complete
  // within `request_timeout`.
  HttpClient(ServerUrl url, std::chrono::milliseconds request_timeout);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Sends one request and returns the answer's status and body, whatever the status. `target`
  // is the path and query; `body`, when not empty, is sent as application/json.
  // Fails with SERVER_UNREACHABLE, naming the URL and the OS error, when the server cannot be
  // connected to, closes the connection, or does not answer within the timeout; and with
  // REQUEST_TOO_LARGE when the answer is larger than kMaxResponseBytes.
  // A request that finds its kept-alive connection closed by the server before any byte of the
  // answer arrived is sent once more on a new connection.
  Result<HttpResponse> request(HttpMethod method, std::string_view target, std::string_view body);

  const ServerUrl& url() const { return url_; }

 private:
  struct Connection;
  struct Attempt;

  Result<std::unique_ptr<Connection>> open_connection() const;
  Attempt send_once(HttpMethod method, std::string_view target, std::string_view body);
  Error exchange_error(HttpMethod method, std::string_view target,
                       const boost::system::error_code& error) const;

  ServerUrl url_;
  std::chrono::milliseconds request_timeout_;
  std::unique_ptr<Connection> connection_;  // null until the first request and after a failure
};

}  // namespace ballast::tools

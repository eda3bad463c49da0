#pragma once
// The HTTP/JSON front end (routes under /api/v1, /healthz, /readyz): wire <-> broker calls,
// nothing more. Boost.Beast stays inside src/protocol/http.
//
// Threading: start() binds and starts the server's own network thread(s); the server never
// blocks them on disk or on the broker (broker calls are asynchronous). bound_address() is
// thread-safe. stop() is idempotent, closes the listener and every connection, and joins.
// Lifetime: the Broker and the LiveSources passed to start() must outlive the server (call
// stop() first).

#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "protocol/http/api_router.h"
#include "util/result.h"

namespace ballast::http {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";     // server.http_listen; port 0 = pick a free one
  bool insecure_remote = false;              // --insecure-remote: allow a non-loopback address
  uint32_t header_timeout_ms = 10000;        // limits.http_header_timeout_ms
  uint32_t body_timeout_ms = 30000;          // limits.http_body_timeout_ms
  uint64_t max_request_bytes = 32ull << 20;  // limits.max_request_bytes
  uint64_t max_message_bytes = 16ull << 20;  // limits.max_message_bytes
  uint32_t max_long_polls = 1024;            // limits.max_long_polls
  uint32_t threads = 1;                      // server.http_threads
};

class HttpServer {
 public:
  // Binds `options.listen` and starts serving. Fails with INVALID_ARGUMENT for a malformed
  // address or a non-loopback one without insecure_remote, and with a bind error naming the
  // address (e.g. port in use) otherwise.
  // `live` feeds GET /api/v1/status (api_router.h).
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options, broker::Broker& broker,
                                                   LiveSources live);
  virtual ~HttpServer() = default;

  // "127.0.0.1:43121": the real address, also when port 0 was asked.
  virtual std::string bound_address() const = 0;
  virtual void stop() = 0;
};

}  // namespace ballast::http

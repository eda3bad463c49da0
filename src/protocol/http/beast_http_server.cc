// HttpServer on Boost.Beast: accept loop and one coroutine per connection, with header and
// body deadlines, a request-size cap and keep-alive. Requests go to ApiRouter.
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "protocol/http/api_router.h"
#include "protocol/http/asio.h"
#include "protocol/http/http_server.h"
#include "protocol/net/listen_endpoint.h"
#include "util/log.h"

namespace ballast::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr uint32_t kHeaderLimitBytes = 16 * 1024;
constexpr auto kDrainTimeout = std::chrono::seconds(2);
constexpr size_t kDrainChunkBytes = 64 * 1024;

// Awaits ApiRouter::handle: the reply may arrive on the broker thread; it is posted back to
// the coroutine's executor.
template <typename Token>
auto async_route(ApiRouter& router, ApiRequest request, Token&& token) {
  return asio::async_initiate<Token, void(ApiResponse)>(
      [&router](auto handler, ApiRequest request) {
        auto executor = asio::get_associated_executor(handler);
        auto work = asio::make_work_guard(executor);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        router.handle(std::move(request), [shared, work = std::move(work)](ApiResponse response) mutable {
          auto target = asio::get_associated_executor(*shared);
          asio::post(target,
                     [shared, response = std::move(response)]() mutable { (*shared)(std::move(response)); });
          work.reset();
        });
      },
      token, std::move(request));
}

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(const HttpServerOptions& options, broker::Broker& broker, LiveSources live)
      : options_(options),
        io_(static_cast<int>(std::max(1u, options.threads))),
        acceptor_(io_),
        router_(broker, options.max_long_polls, live) {}

  ~BeastHttpServer() override { stop(); }

  Status listen(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error(ErrorCode::kListenFailed,
                   fmt::format("cannot listen on {}: {}", options_.listen, ec.message()),
                   "stop the process holding the port (ss -ltnp) or choose another with --http-listen");
    }
    bound_ = acceptor_.local_endpoint(ec);
    return ok_status();
  }

  void start_threads() {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    for (uint32_t i = 0; i < std::max(1u, options_.threads); ++i)
      threads_.emplace_back([this] { io_.run(); });
    log::event(log::Level::kInfo, "http.listening", {log::kv("address", bound_address())});
  }

  std::string bound_address() const override { return net::format_endpoint(bound_); }

  void stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  asio::awaitable<void> accept_loop() {
    while (!stopped_) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) {
        log::event(log::Level::kWarn, "http.accept_failed", {log::kv("error", ec.message())});
        continue;
      }
      auto strand = asio::make_strand(io_);
      asio::co_spawn(strand, session(std::move(socket)), [](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& error) {
          log::event(log::Level::kError, "http.session_failed", {log::kv("error", error.what())});
        }
      });
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (true) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(kHeaderLimitBytes);
      parser.body_limit(options_.max_request_bytes);
      boost::system::error_code ec;
      stream.expires_after(std::chrono::milliseconds(options_.header_timeout_ms));
      co_await bhttp::async_read_header(stream, buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      std::optional<Error> refusal;
      if (!ec) refusal = framing_refusal(parser);
      if (!ec && !refusal) {
        stream.expires_after(std::chrono::milliseconds(options_.body_timeout_ms));
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) refusal = parse_refusal(ec);
      if (refusal) {
        // The rest of the stream cannot be parsed reliably: answer, then close. A named
        // local, not a temporary (GCC 12, see below).
        auto response = refusal_response(*refusal, parser.get().version());
        co_await write(stream, std::move(response), false);
        co_await drain_before_close(stream, buffer);
        break;
      }
      if (ec) break;  // closed by the client, or the header or body deadline passed
      auto request = parser.release();
      stream.expires_never();
      // A named local, not a temporary: GCC 12 destroys temporaries in a co_await
      // expression twice.
      ApiRequest routed{std::string(request.method_string()), std::string(request.target()),
                        std::move(request.body()), std::string(request[bhttp::field::content_type])};
      ApiResponse answer = co_await async_route(router_, std::move(routed), asio::use_awaitable);
      bhttp::response<bhttp::string_body> response(static_cast<bhttp::status>(answer.status),
                                                   request.version());
      response.set(bhttp::field::content_type, "application/json");
      response.set(bhttp::field::server, "ballast");
      response.body() = std::move(answer.body);
      const bool keep_alive = request.keep_alive();
      const bool written = co_await write(stream, std::move(response), keep_alive);
      if (!written) break;
      if (!keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<bool> write(beast::tcp_stream& stream, bhttp::response<bhttp::string_body> response,
                              bool keep_alive) {
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(std::chrono::milliseconds(options_.body_timeout_ms));
    boost::system::error_code ec;
    co_await bhttp::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  // The error for a request the parser refused, or nothing when the connection simply ended
  // (closed by the client, the header or body deadline passed).
  std::optional<Error> parse_refusal(const boost::system::error_code& ec) const {
    if (ec == bhttp::error::body_limit) {
      return Error(ErrorCode::kRequestTooLarge,
                   fmt::format("the request body is over {} bytes, the limit set by limits.max_request_bytes",
                               options_.max_request_bytes),
                   "send smaller batches, or raise limits.max_request_bytes");
    }
    if (ec == bhttp::error::header_limit) {
      return Error(
          ErrorCode::kRequestTooLarge,
          fmt::format("the request line and headers are over {} bytes, the fixed limit of the HTTP API",
                      kHeaderLimitBytes),
          "shorten the path (a queue name is at most 255 bytes) and the headers");
    }
    if (ec.category() != bhttp::make_error_code(bhttp::error::bad_target).category()) return std::nullopt;
    if (ec.value() < static_cast<int>(bhttp::error::bad_line_ending) ||
        ec.value() > static_cast<int>(bhttp::error::bad_obs_fold)) {
      return std::nullopt;
    }
    return Error(ErrorCode::kInvalidArgument, fmt::format("the HTTP request is malformed: {}", ec.message()),
                 "send a well-formed HTTP/1.1 request (RFC 9112): percent-encode the path, no control "
                 "characters in it or in header values, a Content-Length that is a plain number");
  }

  // A request whose body length cannot be determined (RFC 9112 6.3): Beast would read it as
  // having no body and take what follows as the next request.
  static std::optional<Error> framing_refusal(const bhttp::request_parser<bhttp::string_body>& parser) {
    const auto& header = parser.get();
    if (header.count(bhttp::field::transfer_encoding) == 0 || parser.chunked()) return std::nullopt;
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("the request's Transfer-Encoding \"{}\" does not end in chunked, so its body "
                             "length is unknown",
                             std::string(header[bhttp::field::transfer_encoding])),
                 "send the body with a Content-Length, or with Transfer-Encoding: chunked alone");
  }

  bhttp::response<bhttp::string_body> refusal_response(const Error& error, unsigned version) const {
    const ApiResponse answer = error_response(error);
    // The request line may not have parsed: answer HTTP/1.1 then.
    bhttp::response<bhttp::string_body> response(static_cast<bhttp::status>(answer.status),
                                                 version == 0 ? 11 : version);
    response.set(bhttp::field::content_type, "application/json");
    response.set(bhttp::field::server, "ballast");
    response.body() = answer.body;
    return response;
  }

  // After a refusal the client may still be sending (e.g. an oversized body). Closing with
  // unread data would send a reset that can destroy the refusal before the client reads it,
  // so stop sending, then read and discard until the client closes, for at most
  // kDrainTimeout.
  asio::awaitable<void> drain_before_close(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(kDrainTimeout);
    while (!ec) {
      buffer.consume(buffer.size());
      co_await stream.async_read_some(buffer.prepare(kDrainChunkBytes),
                                      asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  HttpServerOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::endpoint bound_;
  ApiRouter router_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                      broker::Broker& broker, LiveSources live) {
  auto endpoint = net::parse_listen_endpoint(options.listen, options.insecure_remote, "--http-listen");
  if (!endpoint) return std::move(endpoint).error();
  auto server = std::make_unique<BeastHttpServer>(options, broker, live);
  auto status = server->listen(*endpoint);
  if (!status) return std::move(status).error();
  server->start_threads();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace ballast::http

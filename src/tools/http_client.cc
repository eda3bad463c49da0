#include "tools/http_client.h"

#include "tools/asio.h"

namespace ballast::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kUnreachableFix =
    "is ballastd running? Check --server or BALLAST_SERVER (default http://127.0.0.1:8080)";

bhttp::verb beast_verb(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return bhttp::verb::get;
    case HttpMethod::kPut:
      return bhttp::verb::put;
    case HttpMethod::kPost:
      return bhttp::verb::post;
    case HttpMethod::kDelete:
      return bhttp::verb::delete_;
  }
  BALLAST_CHECK(false, "unknown HttpMethod {}", static_cast<int>(method));
  return bhttp::verb::get;
}

bhttp::request<bhttp::string_body> build_request(HttpMethod method, std::string_view target,
                                                 std::string_view body, const ServerUrl& url) {
  bhttp::request<bhttp::string_body> request(beast_verb(method),
                                             beast::string_view(target.data(), target.size()), 11);
  request.set(bhttp::field::host, fmt::format("{}:{}", url.host, url.port));
  request.set(bhttp::field::user_agent, "ballast-cli");
  request.set(bhttp::field::accept, "application/json");
  request.keep_alive(true);
  if (!body.empty()) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = std::string(body);
  }
  request.prepare_payload();
  return request;
}

// Runs the asynchronous operations just started on `io` until they complete or time out (the
// tcp_stream's deadline), so each call is synchronous but bounded.
void run_started_operations(asio::io_context& io) {
  io.restart();
  io.run();
}

// True when the server closed the connection: what an idle kept-alive connection looks like.
bool closed_by_server(const boost::system::error_code& error) {
  return error == bhttp::error::end_of_stream || error == asio::error::eof ||
         error == asio::error::connection_reset || error == asio::error::broken_pipe;
}

}  // namespace

struct HttpClient::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

struct HttpClient::Attempt {
  Result<HttpResponse> result;
  bool closed_before_answer = false;  // worth one more try on a new connection
};

std::string_view http_method_name(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kDelete:
      return "DELETE";
  }
  BALLAST_CHECK(false, "unknown HttpMethod {}", static_cast<int>(method));
  return "";
}

HttpClient::HttpClient(ServerUrl url, std::chrono::milliseconds request_timeout)
    : url_(std::move(url)), request_timeout_(request_timeout) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Result<HttpResponse> HttpClient::request(HttpMethod method, std::string_view target, std::string_view body) {
  const bool reusing_connection = connection_ != nullptr;
  Attempt attempt = send_once(method, target, body);
  if (reusing_connection && attempt.closed_before_answer) {
    attempt = send_once(method, target, body);
  }
  return std::move(attempt.result);
}

Result<std::unique_ptr<HttpClient::Connection>> HttpClient::open_connection() const {
  auto connection = std::make_unique<Connection>();
  boost::system::error_code error;
  asio::ip::tcp::resolver resolver(connection->io);
  const auto endpoints = resolver.resolve(url_.host, url_.port, error);
  if (!error) {
    connection->stream.expires_after(request_timeout_);
    connection->stream.async_connect(
        endpoints, [&error](const boost::system::error_code& outcome, const auto&) { error = outcome; });
    run_started_operations(connection->io);
  }
  if (error) {
    return Error(ErrorCode::kServerUnreachable,
                 fmt::format("cannot reach ballastd at {}: {}", url_.text, error.message()),
                 std::string(kUnreachableFix));
  }
  return connection;
}

HttpClient::Attempt HttpClient::send_once(HttpMethod method, std::string_view target, std::string_view body) {
  if (connection_ == nullptr) {
    auto opened = open_connection();
    if (!opened) return Attempt{std::move(opened).error()};
    connection_ = std::move(*opened);
  }
  Connection& connection = *connection_;
  const auto request = build_request(method, target, body, url_);
  boost::system::error_code error;
  const auto record = [&error](const boost::system::error_code& outcome, size_t) { error = outcome; };
  connection.stream.expires_after(request_timeout_);
  bhttp::async_write(connection.stream, request, record);
  run_started_operations(connection.io);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  if (!error) {
    bhttp::async_read(connection.stream, connection.buffer, parser, record);
    run_started_operations(connection.io);
  }
  if (error) {
    connection_.reset();
    const bool closed_before_answer = closed_by_server(error) && !parser.got_some();
    return Attempt{exchange_error(method, target, error), closed_before_answer};
  }
  auto response = parser.release();
  if (!response.keep_alive()) connection_.reset();
  return Attempt{HttpResponse{static_cast<int>(response.result_int()), std::move(response.body())}};
}

Error HttpClient::exchange_error(HttpMethod method, std::string_view target,
                                 const boost::system::error_code& error) const {
  const auto request_name = fmt::format("{} {}", http_method_name(method), target);
  if (error == bhttp::error::body_limit) {
    return Error(ErrorCode::kRequestTooLarge,
                 fmt::format("the answer of ballastd at {} to {} is larger than {} bytes, the "
                             "CLI's limit",
                             url_.text, request_name, kMaxResponseBytes),
                 "ask for fewer messages at a time, e.g. with a smaller --count");
  }
  if (error == beast::error::timeout) {
    return Error(ErrorCode::kServerUnreachable,
                 fmt::format("ballastd at {} did not answer {} within {} ms", url_.text, request_name,
                             request_timeout_.count()),
                 "check that ballastd is running and not stalled (its log says why), and that "
                 "--server or BALLAST_SERVER names it");
  }
  return Error(ErrorCode::kServerUnreachable,
               fmt::format("lost the connection to ballastd at {} during {}: {}", url_.text, request_name,
                           error.message()),
               "check that ballastd is still running (its log says why it closed the "
               "connection) and that --server or BALLAST_SERVER names it");
}

}  // namespace ballast::tools

#include "tools/api_client.h"

#include "tools/asio.h"

namespace ballast::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct ApiClient::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

Result<ServerUrl> parse_server_url(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("server URL \"{}\" does not start with http://", url),
                 "use e.g. --server http://127.0.0.1:8080 (TLS comes with the security issue)");
  }
  std::string rest = url.substr(prefix.size());
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  ServerUrl parsed;
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.back() == ']') {
    parsed.host = rest;
    parsed.port = "80";
  } else {
    parsed.host = rest.substr(0, colon);
    parsed.port = rest.substr(colon + 1);
  }
  if (parsed.host.size() >= 2 && parsed.host.front() == '[') parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
  if (parsed.host.empty() || parsed.port.empty()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("server URL \"{}\" has no host or port", url),
                 "use e.g. --server http://127.0.0.1:8080");
  }
  return parsed;
}

std::string percent_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string queue_path(const std::string& vhost, const std::string& queue, const std::string& action) {
  std::string path = vhost == "/" ? "/api/v1/queues" : "/api/v1/vhosts/" + percent_encode(vhost) + "/queues";
  if (!queue.empty()) path += "/" + percent_encode(queue);
  if (!action.empty()) path += "/" + action;
  return path;
}

ApiClient::ApiClient(std::string url_text, ServerUrl url) : url_text_(std::move(url_text)), url_(std::move(url)) {}
ApiClient::~ApiClient() = default;

Status ApiClient::connect() {
  connection_ = std::make_unique<Connection>();
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(connection_->io);
  auto endpoints = resolver.resolve(url_.host, url_.port, ec);
  if (!ec) connection_->stream.connect(endpoints, ec);
  if (ec) {
    connection_.reset();
    return Error(ErrorCode::kServerUnreachable, fmt::format("cannot reach ballastd at {}: {}", url_text_, ec.message()),
                 "is ballastd running? Check --server or BALLAST_SERVER (default http://127.0.0.1:8080)");
  }
  return ok_status();
}

Result<nlohmann::json> ApiClient::call(const std::string& method, const std::string& target, const nlohmann::json* body) {
  if (!connection_) {
    auto status = connect();
    if (!status) return std::move(status).error();
  }
  bhttp::request<bhttp::string_body> request(bhttp::string_to_verb(method), target, 11);
  request.set(bhttp::field::host, url_.host);
  request.set(bhttp::field::user_agent, "ballast-cli");
  request.keep_alive(true);
  if (body != nullptr) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = body->dump();
  }
  request.prepare_payload();
  boost::system::error_code ec;
  bhttp::write(connection_->stream, request, ec);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1ull << 32);
  if (!ec) bhttp::read(connection_->stream, connection_->buffer, parser, ec);
  if (ec) {
    connection_.reset();
    return Error(ErrorCode::kServerUnreachable,
                 fmt::format("lost the connection to ballastd at {} during {} {}: {}", url_text_, method, target, ec.message()),
                 "check that ballastd is still running (its log says why it stopped)");
  }
  auto response = parser.release();
  if (!response.keep_alive()) connection_.reset();
  nlohmann::json parsed = nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
  const int status = response.result_int();
  if (status >= 200 && status < 300) {
    if (parsed.is_discarded()) parsed = nlohmann::json::object();
    return parsed;
  }
  if (!parsed.is_discarded() && parsed.contains("error") && parsed["error"].is_object()) {
    const auto& error = parsed["error"];
    const auto code = error_code_from_name(error.value("code", "")).value_or(ErrorCode::kInvalidArgument);
    return Error(code, error.value("message", ""), error.value("fix", ""));
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("{} {} answered HTTP {} without a Ballast error body", method, target, status),
               fmt::format("check that {} is a ballastd", url_text_));
}

}  // namespace ballast::tools

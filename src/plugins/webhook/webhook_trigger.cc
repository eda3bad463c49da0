// webhook-trigger: a shipped trigger plug-in (docs/plugins.md, "webhook-trigger"). POSTs each
// message stored in its queues to the `url` option: a 2xx answer is done; a 4xx other than 408,
// 425 and 429 is failed (dead-lettered at once); any other status, a refused connection or no
// answer within `timeout_ms` is retry (the broker backs off and calls again, then dead-letters
// after max_attempts). Built on the plug-in client library.
//
// Options:  url = "http://host:port/path"   (required)
//           timeout_ms = "5000"             (the whole request; keep it below call_timeout_ms)
// The request: POST, the message body as is, Content-Type = the message's content type (else
// application/octet-stream), and headers X-Ballast-Vhost, X-Ballast-Queue, X-Ballast-Message-Id,
// X-Ballast-Attempt and, when set, X-Ballast-Correlation-Id.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <chrono>
#include <string>

#include "ballast/plugin.h"
#include "plugins/webhook/webhook_status.h"
#include "plugins/webhook/webhook_url.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using ballast::plugin::Outcome;
using ballast::plugin::TriggerCall;

constexpr std::string_view kVersion = "1.0.0";

struct Settings {
  ballast::webhook::WebhookUrl url;
  std::chrono::milliseconds timeout{5000};
};

http::request<http::string_body> request_for(const Settings& settings, const TriggerCall& call) {
  http::request<http::string_body> request{http::verb::post, settings.url.target, 11};
  request.set(http::field::host, settings.url.host + ":" + settings.url.port);
  request.set(http::field::user_agent, "ballast-webhook-trigger/" + std::string(kVersion));
  request.set(http::field::content_type,
              call.message.content_type.empty() ? "application/octet-stream" : call.message.content_type);
  request.set("X-Ballast-Vhost", call.vhost);
  request.set("X-Ballast-Queue", call.queue);
  request.set("X-Ballast-Message-Id", call.message.id);
  request.set("X-Ballast-Attempt", std::to_string(call.attempt));
  if (!call.message.correlation_id.empty())
    request.set("X-Ballast-Correlation-Id", call.message.correlation_id);
  request.body() = call.message.body;
  request.prepare_payload();
  return request;
}

// One POST with a deadline over the whole exchange; the outcome names what happened.
Outcome post(const Settings& settings, const TriggerCall& call) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  asio::ip::tcp::resolver resolver(io);
  auto request = request_for(settings, call);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code failure;
  std::string step = "resolving";
  stream.expires_after(settings.timeout);
  resolver.async_resolve(settings.url.host, settings.url.port, [&](beast::error_code error, auto endpoints) {
    if (error) return void(failure = error);
    step = "connecting";
    stream.async_connect(endpoints, [&](beast::error_code error, auto) {
      if (error) return void(failure = error);
      step = "sending";
      http::async_write(stream, request, [&](beast::error_code error, size_t) {
        if (error) return void(failure = error);
        step = "waiting for the answer";
        http::async_read(stream, buffer, response, [&](beast::error_code error, size_t) { failure = error; });
      });
    });
  });
  // The resolver has no deadline of its own: the whole run is bounded by the timeout too.
  io.run_for(settings.timeout + std::chrono::milliseconds(100));
  const std::string where = "http://" + settings.url.host + ":" + settings.url.port + settings.url.target;
  if (!io.stopped()) return Outcome::retry("no answer from " + where + " within timeout_ms while " + step);
  if (failure) return Outcome::retry(step + " " + where + ": " + failure.message());
  return ballast::webhook::outcome_for_status(response.result_int(), where);
}

std::optional<std::string> configure(Settings& settings, const ballast::plugin::Hello& hello) {
  auto url = hello.options.find("url");
  if (url == hello.options.end())
    return "the option url is missing: set options = { url = \"http://host:port/path\" }";
  std::string why;
  auto parsed = ballast::webhook::parse_webhook_url(url->second, why);
  if (!parsed) return why;
  settings.url = std::move(*parsed);
  if (auto timeout = hello.options.find("timeout_ms"); timeout != hello.options.end()) {
    unsigned value = 0;
    const auto& text = timeout->second;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < 10 || value > 600000) {
      return "the option timeout_ms = \"" + text + "\" is not a whole number of milliseconds in 10..600000";
    }
    settings.timeout = std::chrono::milliseconds(value);
  }
  return std::nullopt;
}

}  // namespace

int main() {
  Settings settings;
  ballast::plugin::Handlers handlers;
  handlers.version = std::string(kVersion);
  handlers.on_hello = [&](const ballast::plugin::Hello& hello) { return configure(settings, hello); };
  handlers.on_trigger = [&](const TriggerCall& call) { return post(settings, call); };
  return ballast::plugin::run(handlers);
}

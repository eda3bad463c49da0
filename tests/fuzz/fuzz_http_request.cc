// libFuzzer target: the HTTP API's request path (src/protocol/http). The input is the byte
// stream of one keep-alive connection: up to kMaxRequests HTTP/1.1 requests. Each is parsed by
// Boost.Beast's request parser with the server's header limit (as beast_http_server.cc does)
// and handed to the real ApiRouter (routing, percent-decoding, JSON bodies) over a real broker
// (ScratchBroker). Long polls are refused (max_long_polls = 0), so no input waits.
// Invariants: no abort or exception; every request is answered exactly once within
// kReplyTimeout with a status from 200 to 599 and a JSON body; every error response carries
// the R1 fields: a code, a message and a fix.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/http/api_router.h"
#include "protocol/http/asio.h"
#include "scratch_broker.h"
#include "util/check.h"

namespace ballast::fuzz {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;

constexpr uint32_t kHeaderLimitBytes = 16 * 1024;  // as beast_http_server.cc
constexpr uint64_t kBodyLimitBytes = 1u << 20;
constexpr int kMaxRequests = 8;
constexpr auto kReplyTimeout = std::chrono::seconds(20);

// Parses one request off the front of `stream`; none when it is incomplete or malformed (the
// server then closes the connection).
std::optional<http::ApiRequest> next_request(std::string_view& stream) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(kHeaderLimitBytes);
  parser.body_limit(kBodyLimitBytes);
  parser.eager(true);
  std::string_view rest = stream;
  while (!parser.is_done()) {
    boost::system::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec && ec != bhttp::error::need_more) return std::nullopt;
    if (used == 0) return std::nullopt;
    rest.remove_prefix(used);
  }
  stream = rest;
  auto request = parser.release();
  return http::ApiRequest{std::string(request.method_string()), std::string(request.target()),
                          std::move(request.body()), std::string(request[bhttp::field::content_type])};
}

http::ApiResponse route(http::ApiRouter& router, http::ApiRequest request) {
  auto answered = std::make_shared<std::promise<http::ApiResponse>>();
  auto future = answered->get_future();
  router.handle(std::move(request),
                [answered](http::ApiResponse response) { answered->set_value(std::move(response)); });
  BALLAST_CHECK(future.wait_for(kReplyTimeout) == std::future_status::ready,
                "the API did not answer a request within {} s", kReplyTimeout.count());
  return future.get();
}

void check_response(const http::ApiRequest& request, const http::ApiResponse& response) {
  BALLAST_CHECK(response.status >= 200 && response.status <= 599, "{} {} answered with status {}",
                request.method, request.target, response.status);
  const json body = json::parse(response.body, nullptr, false);
  BALLAST_CHECK(!body.is_discarded(), "{} {} answered with a body that is not JSON", request.method,
                request.target);
  if (response.status < 400) return;
  const auto non_empty_text = [&](const char* field) {
    const json& error = body["error"];
    return error.contains(field) && error[field].is_string() && !error[field].get<std::string>().empty();
  };
  const bool r1 = body.is_object() && body.contains("error") && body["error"].is_object() &&
                  non_empty_text("code") && non_empty_text("message") && non_empty_text("fix");
  BALLAST_CHECK(r1, "{} {} answered {} without code, message and fix: {}", request.method, request.target,
                response.status, response.body);
}

}  // namespace
}  // namespace ballast::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  static fuzz::ScratchBroker scratch;
  static net::BlockedPublishers blocked_publishers;
  static SystemClock clock;
  http::ApiRouter router(scratch.next_input(), 0,
                         http::LiveSources{blocked_publishers, log::recent_fault_events(), clock});
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < fuzz::kMaxRequests; ++i) {
    auto request = fuzz::next_request(stream);
    if (!request) break;
    const http::ApiResponse response = fuzz::route(router, *request);
    fuzz::check_response(*request, response);
  }
  return 0;
}

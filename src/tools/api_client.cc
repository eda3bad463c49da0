#include "tools/api_client.h"

#include "tools/json_text.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

constexpr size_t kExcerptBytes = 200;

std::string string_field(const json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) return "";
  return found->get<std::string>();
}

std::string excerpt(const std::string& body) {
  if (body.size() <= kExcerptBytes) return body;
  return body.substr(0, kExcerptBytes) + "...";
}

Error refusal(const json& parsed, const HttpResponse& response, std::string_view request_name) {
  const json* error = nullptr;
  if (parsed.is_object()) {
    const auto found = parsed.find("error");
    if (found != parsed.end() && found->is_object()) error = &*found;
  }
  if (error == nullptr) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{} answered HTTP {} without a Ballast error body: \"{}\"", request_name,
                             response.status, excerpt(response.body)),
                 "check that --server or BALLAST_SERVER names ballastd's HTTP API, not a proxy "
                 "or another service");
  }
  const std::string code_name = string_field(*error, "code");
  std::string message = string_field(*error, "message");
  const auto code = error_code_from_name(code_name);
  if (!code) {
    message = fmt::format("{} (server error code \"{}\", HTTP {}, unknown to this ballast CLI)", message,
                          code_name, response.status);
  }
  return Error(code.value_or(ErrorCode::kInvalidArgument), std::move(message), string_field(*error, "fix"));
}

}  // namespace

Result<json> interpret_response(const HttpResponse& response, std::string_view request_name) {
  const bool success = response.status >= 200 && response.status < 300;
  if (success && response.body.empty()) return json::object();
  json parsed = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!success) return refusal(parsed, response, request_name);
  if (parsed.is_discarded()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{} answered HTTP {} with a body that is not JSON: \"{}\"", request_name,
                             response.status, excerpt(response.body)),
                 "check that --server or BALLAST_SERVER names ballastd's HTTP API");
  }
  return parsed;
}

ApiClient::ApiClient(HttpClient http, std::string_view vhost) : http_(std::move(http)), paths_(vhost) {}

Result<ApiClient::Answer> ApiClient::call(HttpMethod method, const std::string& target, const json* body) {
  auto response = http_.request(method, target, body == nullptr ? "" : json_text(*body));
  if (!response) return std::move(response).error();
  const auto request_name = fmt::format("{} {} at {}", http_method_name(method), target, http_.url().text);
  auto parsed = interpret_response(*response, request_name);
  if (!parsed) return std::move(parsed).error();
  return Answer{response->status, std::move(*parsed)};
}

Result<json> ApiClient::call_json(HttpMethod method, const std::string& target, const json* body) {
  auto answer = call(method, target, body);
  if (!answer) return std::move(answer).error();
  return std::move(answer->body);
}

Result<QueueDeclared> ApiClient::declare_queue(std::string_view name, const json& settings) {
  auto answer = call(HttpMethod::kPut, paths_.queue(name), &settings);
  if (!answer) return std::move(answer).error();
  const auto outcome = answer->status == 201 ? QueueDeclaration::kCreated : QueueDeclaration::kAlreadyExisted;
  return QueueDeclared{outcome, std::move(answer->body)};
}

Result<json> ApiClient::list_queues() {
  return call_json(HttpMethod::kGet, paths_.queues());
}

Result<json> ApiClient::show_queue(std::string_view name) {
  return call_json(HttpMethod::kGet, paths_.queue(name));
}

Result<json> ApiClient::delete_queue(std::string_view name) {
  return call_json(HttpMethod::kDelete, paths_.queue(name));
}

Result<json> ApiClient::purge_queue(std::string_view name) {
  return call_json(HttpMethod::kPost, paths_.queue_action(name, "purge"));
}

Result<json> ApiClient::publish(std::string_view queue, const json& messages) {
  const json request = {{"messages", messages}};
  return call_json(HttpMethod::kPost, paths_.queue_action(queue, "messages"), &request);
}

Result<json> ApiClient::receive(std::string_view queue, const ReceiveRequest& request) {
  json body = {{"max", request.max}, {"wait_seconds", request.wait_seconds}};
  if (request.visibility_timeout_seconds) {
    body["visibility_timeout_seconds"] = *request.visibility_timeout_seconds;
  }
  return call_json(HttpMethod::kPost, paths_.queue_action(queue, "receive"), &body);
}

Result<json> ApiClient::ack(std::string_view queue, const json& receipts) {
  const json body = {{"receipts", receipts}};
  return call_json(HttpMethod::kPost, paths_.queue_action(queue, "ack"), &body);
}

Result<json> ApiClient::nack(std::string_view queue, const json& receipts, Requeue requeue) {
  const json body = {{"receipts", receipts}, {"requeue", requeue == Requeue::kYes}};
  return call_json(HttpMethod::kPost, paths_.queue_action(queue, "nack"), &body);
}

Result<json> ApiClient::peek(std::string_view queue, uint32_t max) {
  return call_json(HttpMethod::kGet, paths_.peek(queue, max));
}

Result<json> ApiClient::stats() {
  return call_json(HttpMethod::kGet, ApiPaths::stats());
}

Result<json> ApiClient::health() {
  return call_json(HttpMethod::kGet, ApiPaths::health());
}

Result<json> ApiClient::status() {
  return call_json(HttpMethod::kGet, ApiPaths::status());
}

Result<json> ApiClient::list_plugins() {
  return call_json(HttpMethod::kGet, ApiPaths::plugins());
}

Result<json> ApiClient::show_plugin(std::string_view name) {
  return call_json(HttpMethod::kGet, ApiPaths::plugin(name));
}

Result<json> ApiClient::change_plugin(std::string_view name, std::string_view action, const json* body) {
  return call_json(HttpMethod::kPost, ApiPaths::plugin(name, action), body);
}

}  // namespace ballast::tools

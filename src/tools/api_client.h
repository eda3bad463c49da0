#pragma once
// ballastd's HTTP API as typed calls for the CLI. Each call builds its request target and JSON
// body, sends it through one HttpClient, and returns the server's JSON answer, or an Error:
// the server's own code, message and fix for a refusal (HTTP 4xx/5xx), SERVER_UNREACHABLE for a
// server that cannot be reached.
// Not thread-safe: the owner serializes calls.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tools/api_paths.h"
#include "tools/http_client.h"
#include "util/result.h"

namespace ballast::tools {

// Turns one answer into its JSON (an empty 2xx body is an empty object) or into an Error.
// A refusal carrying {"error": {"code", "message", "fix"}} keeps the server's code, message and
// fix; a code this CLI does not know becomes INVALID_ARGUMENT with the server's code named in the
// message. Any other refusal, and a 2xx body that is not JSON, is INVALID_ARGUMENT naming
// `request_name` (e.g. "GET /api/v1/queues at http://127.0.0.1:8080") and the HTTP status.
Result<nlohmann::json> interpret_response(const HttpResponse& response, std::string_view request_name);

enum class QueueDeclaration { kCreated, kAlreadyExisted };
enum class Requeue { kNo, kYes };

struct QueueDeclared {
  QueueDeclaration outcome;
  nlohmann::json answer;
};

struct ReceiveRequest {
  uint32_t max = 1;
  uint32_t wait_seconds = 0;
  std::optional<uint32_t> visibility_timeout_seconds;  // the queue's default when absent
};

class ApiClient {
 public:
  // Calls address queues in `vhost` ("/" is the default vhost).
  ApiClient(HttpClient http, std::string_view vhost);

  // PUT the queue with `settings` (an object of the API's setting keys). Creating it and finding
  // it with the same settings both succeed; different settings fail (QUEUE_EXISTS_DIFFERENT).
  Result<QueueDeclared> declare_queue(std::string_view name, const nlohmann::json& settings);
  Result<nlohmann::json> list_queues();
  Result<nlohmann::json> show_queue(std::string_view name);
  Result<nlohmann::json> delete_queue(std::string_view name);
  Result<nlohmann::json> purge_queue(std::string_view name);
  // `messages` is the array of message objects sent as {"messages": [...]}.
  Result<nlohmann::json> publish(std::string_view queue, const nlohmann::json& messages);
  Result<nlohmann::json> receive(std::string_view queue, const ReceiveRequest& request);
  // `receipts` is an array of receipt strings from receive().
  Result<nlohmann::json> ack(std::string_view queue, const nlohmann::json& receipts);
  Result<nlohmann::json> nack(std::string_view queue, const nlohmann::json& receipts, Requeue requeue);
  Result<nlohmann::json> peek(std::string_view queue, uint32_t max);
  Result<nlohmann::json> stats();
  // {"status": "ok" | "degraded", "degraded": [{"component", "code", "message"}]}.
  Result<nlohmann::json> health();
  // The live status (docs/http-api.md, GET /api/v1/status): what health() says, plus damaged
  // queues, blocked publishers, recent HTTP refusals and the last warn and error events.
  Result<nlohmann::json> status();
  // The plug-ins (docs/http-api.md, "Plug-ins"): {"plugins": [...]}, or one plug-in's view.
  Result<nlohmann::json> list_plugins();
  Result<nlohmann::json> show_plugin(std::string_view name);
  // POST /api/v1/plugins/{name}/{action}; `body` for attach and detach. Answers the plug-in's view.
  Result<nlohmann::json> change_plugin(std::string_view name, std::string_view action,
                                       const nlohmann::json* body = nullptr);

 private:
  struct Answer {
    int status;
    nlohmann::json body;
  };

  Result<Answer> call(HttpMethod method, const std::string& target, const nlohmann::json* body = nullptr);
  Result<nlohmann::json> call_json(HttpMethod method, const std::string& target,
                                   const nlohmann::json* body = nullptr);

  HttpClient http_;
  ApiPaths paths_;
};

}  // namespace ballast::tools

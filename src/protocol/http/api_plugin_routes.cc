// ApiRouter: the plug-in routes (docs/http-api.md, "Plug-ins"):
//   GET  /api/v1/plugins                  every plug-in
//   GET  /api/v1/plugins/{name}           one
//   POST /api/v1/plugins/{name}/attach    {"queue": "...", "policy": "hold|bypass|reject"}
//   POST /api/v1/plugins/{name}/detach    {"queue": "..."}
//   POST /api/v1/plugins/{name}/reload | disable | enable
#include "protocol/http/api_responses.h"
#include "protocol/http/api_router.h"
#include "protocol/http/plugin_json.h"

namespace ballast::http {

using nlohmann::json;

namespace {

ApiResponse plugin_response(const plugins::PluginView& view) {
  return json_response(200, plugin_json(view));
}

plugins::PluginControl::ViewCallback answer_view(ApiReply reply) {
  return [reply = std::move(reply)](Result<plugins::PluginView> result) {
    if (!result) return reply(error_response(result.error()));
    reply(plugin_response(*result));
  };
}

struct QueueChange {
  std::string queue;
  std::string policy;
};

// {"queue": "...", "policy": "..."}; `policy` only when `with_policy`.
Result<QueueChange> parse_queue_change(const std::string& body, std::string_view action, bool with_policy) {
  const std::string example =
      with_policy ? R"({"queue": "mail.in", "policy": "hold"})" : R"({"queue": "mail.in"})";
  const auto invalid = [&](std::string what) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("the {} body {}", action, what),
                 fmt::format("send a JSON object such as {}", example));
  };
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return invalid("is not a JSON object");
  QueueChange change;
  for (const auto& [key, value] : document.items()) {
    if (key != "queue" && !(with_policy && key == "policy"))
      return invalid(fmt::format("has the unknown key \"{}\"", key));
    if (!value.is_string()) return invalid(fmt::format("has \"{}\" that is not a string", key));
    (key == "queue" ? change.queue : change.policy) = value.get<std::string>();
  }
  if (change.queue.empty()) return invalid("has no \"queue\"");
  return change;
}

}  // namespace

void ApiRouter::handle_plugins(const std::vector<std::string>& segments, ApiRequest& request,
                               ApiReply& reply) {
  plugins::PluginControl* control = live_.plugins;
  if (segments.size() == 3) {
    if (request.method != "GET") return reply(method_not_allowed(request, "GET"));
    const auto views = control != nullptr ? control->list() : std::vector<plugins::PluginView>{};
    return reply(json_response(200, plugins_json(views)));
  }
  const std::string& name = segments[3];
  if (segments.size() > 5) return reply(not_found(request));
  if (segments.size() == 4 && request.method != "GET") return reply(method_not_allowed(request, "GET"));
  if (segments.size() == 5 && request.method != "POST") return reply(method_not_allowed(request, "POST"));
  if (control == nullptr) {
    return reply(error_response(Error(ErrorCode::kNotFound, fmt::format("no plug-in is named \"{}\"", name),
                                      "no plug-ins are configured: add a [[plugins]] table to ballast.toml "
                                      "(docs/plugins.md) and restart")));
  }
  if (segments.size() == 4) {
    auto view = control->show(name);
    return reply(view ? plugin_response(*view) : error_response(view.error()));
  }
  const std::string& action = segments[4];
  if (action == "attach" || action == "detach") {
    auto change = parse_queue_change(request.body, action, action == "attach");
    if (!change) return reply(error_response(change.error()));
    if (action == "attach")
      return control->attach(name, change->queue, change->policy, answer_view(std::move(reply)));
    return control->detach(name, change->queue, answer_view(std::move(reply)));
  }
  if (action == "reload") return control->reload(name, answer_view(std::move(reply)));
  if (action == "disable") return control->disable(name, answer_view(std::move(reply)));
  if (action == "enable") return control->enable(name, answer_view(std::move(reply)));
  reply(not_found(request));
}

}  // namespace ballast::http

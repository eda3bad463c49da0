// ApiRouter: the plug-in routes (docs/http-api.md, "Plug-ins"):
//   GET  /api/v1/plugins                  every plug-in
//   GET  /api/v1/plugins/{name}           one
//   POST /api/v1/plugins/{name}/attach    {"queue": "...", "policy": "hold|bypass|reject"}
//   POST /api/v1/plugins/{name}/detach    {"queue": "..."}
//   POST /api/v1/plugins/{name}/reload | disable | enable
#include "protocol/http/api_json.h"
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
    auto change = parse_plugin_queue(request.body, action);
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

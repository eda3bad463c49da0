#pragma once
// The JSON of the plug-in routes (docs/http-api.md, "Plug-ins"): one plug-in's view as
// GET /api/v1/plugins/{name} answers it, the list, and the summary /healthz and
// /api/v1/status carry. Thread-safe: pure functions.

#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/plugin_control.h"

namespace ballast::http {

nlohmann::json plugin_json(const plugins::PluginView& view);
nlohmann::json plugins_json(const std::vector<plugins::PluginView>& views);
// Per plug-in: name, kind, state, reason, pid (for /healthz and /api/v1/status).
nlohmann::json plugin_summary_json(const std::vector<plugins::PluginView>& views);

}  // namespace ballast::http

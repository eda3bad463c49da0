#pragma once
// Responses the API's route files share (api_router.cc, api_plugin_routes.cc). Thread-safe:
// pure functions.

#include <string_view>

#include <nlohmann/json.hpp>

#include "protocol/http/api_router.h"

namespace ballast::http {

// Replaces invalid UTF-8 (e.g. echoed from a percent-decoded path) instead of throwing.
ApiResponse json_response(int status, const nlohmann::json& body);
// 404 NOT_FOUND naming the method and target, with the routes as the fix.
ApiResponse not_found(const ApiRequest& request);
// 405 naming what is allowed.
ApiResponse method_not_allowed(const ApiRequest& request, std::string_view allowed);

}  // namespace ballast::http

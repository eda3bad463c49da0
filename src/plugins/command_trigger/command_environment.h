#pragma once
// The environment of one command-trigger run (docs/plugins.md, "command-trigger"): the
// message's metadata as BALLAST_* variables. Thread-safe: pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "ballast/plugin.h"

namespace ballast::command_trigger {

// The variable that carries the header `name`: "BALLAST_HEADER_" and the name in upper case,
// each byte other than A-Z and 0-9 replaced by '_' ("x-order-id" -> BALLAST_HEADER_X_ORDER_ID).
std::string header_variable(std::string_view name);

// "NAME=value" strings for a run about `call`: `inherited` (the plug-in's own environment, e.g.
// PATH) without any variable whose name starts with BALLAST_, then BALLAST_VHOST,
// BALLAST_QUEUE, BALLAST_MESSAGE_ID, BALLAST_ATTEMPT, BALLAST_PUBLISHED_AT_MS, and when set
// BALLAST_ROUTING_KEY, BALLAST_CONTENT_TYPE, BALLAST_CORRELATION_ID and BALLAST_REPLY_TO, then one
// variable a header. Two headers with one variable name: the first by header name wins.
std::vector<std::string> command_environment(const plugin::TriggerCall& call,
                                             const std::vector<std::string>& inherited);

}  // namespace ballast::command_trigger

#pragma once
// The verdict an attachment's policy gives a message while its plug-in is down or too slow
// (docs/plugins.md, "When a plug-in is down or too slow"): hold -> kHold, bypass -> kBypass with
// "<plugin>: <why>", reject -> kRefuse with PLUGIN_UNAVAILABLE naming the plug-in, the queue and
// why, with the fix. Thread-safe: pure function.

#include <string_view>

#include "broker/publish_filter.h"
#include "plugins/plugin_config.h"

namespace ballast::plugins {

// `why` completes "plug-in X is unavailable: ...", e.g. "restarting after it exited with status
// 3; next start in 800 ms". `operator_fix` says what the operator can change (e.g. a deadline).
broker::FilterVerdict policy_verdict(std::string_view plugin, FilterPolicy policy, std::string_view vhost,
                                     std::string_view queue, broker::PublishRequest message,
                                     std::string_view why, std::string_view operator_fix);

}  // namespace ballast::plugins

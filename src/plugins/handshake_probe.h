#pragma once
// Starts a configured plug-in once, sends it the hello frame and waits up to its
// handshake_timeout_ms for its answer (docs/plugins.md, "Handshake"), then closes its stdin and
// kills it. For `ballast doctor`: the broker never probes (its supervisor handshakes for real).
// The probe runs without the plug-in's cgroup_* limits (and its cgroup), as the calling user.
// Blocking; thread-safe (touches only the process it starts). SIGPIPE must be ignored or
// blocked by the caller, since the plug-in may exit before the hello is written.

#include <string>
#include <string_view>

#include "plugins/plugin_config.h"
#include "util/result.h"

namespace ballast::plugins {

// The version the plug-in's hello gives, or PLUGIN_UNAVAILABLE naming the plug-in and what went
// wrong: it could not be started, exited (with its status and last stderr line), answered
// something that is not a valid hello, or did not answer within handshake_timeout_ms.
Result<std::string> probe_handshake(const PluginConfig& config, std::string_view broker_version);

}  // namespace ballast::plugins

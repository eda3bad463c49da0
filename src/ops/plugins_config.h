#pragma once
// The `[[plugins]]` array of tables of the configuration file (docs/plugins.md, "Configuration";
// docs/configuration.md, "[[plugins]]"). Internal to ops/config.cc: it includes toml++.
// Plug-ins come from the file only (no environment variables or flags); a change needs a restart.
// Thread-safe: pure functions.

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "plugins/plugin_config.h"

namespace ballast::ops {

// Parses and validates `node` (the value of the top-level key "plugins" in `path`). Appends one
// line per problem to `problems`, each naming file:line, the key (plugins[i].key) and what is
// allowed: unknown keys (with the nearest valid one), missing or mistyped keys, a name outside
// [a-z0-9._-] or used twice, a kind other than "filter" or "trigger", a key of the other kind
// (policy for a trigger; retry_initial_ms, retry_max_ms, max_attempts, concurrency for a
// filter), an empty command, a policy other than hold|bypass|reject, values out of range,
// retry_max_ms below retry_initial_ms, a queue attached to two filters and a trigger attached to
// a "ballast." queue. Returns the plug-ins that had no problem.
std::vector<plugins::PluginConfig> parse_plugin_tables(const toml::node& node, const std::string& path,
                                                       std::vector<std::string>& problems);

}  // namespace ballast::ops

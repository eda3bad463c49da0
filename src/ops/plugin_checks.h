#pragma once
// The start-up and doctor check of configured plug-ins (R6; docs/plugins.md): each [[plugins]]
// command's executable exists and may be executed, and (for the doctor) answers a hello within
// its handshake_timeout_ms when started once. With cgroup_* keys set, the cgroup hierarchy the
// plug-in's cgroup would be created in must exist and be writable (plugins/plugin_cgroup.h; seen
// from the checking process's own cgroup). A problem is a warning, never a failure: a plug-in
// never stops the broker from starting (R5); its queues follow their policy until it can be
// started. Checked for the running process's user (the doctor, run as root on behalf of
// server.user, sees root's view of execute permission).
// Thread-safe: reads the file system and (kHandshake) starts and kills each plug-in once.

#include <vector>

#include "ops/check_result.h"
#include "ops/config.h"

namespace ballast::ops {

enum class PluginProbe {
  kExecutableOnly,  // ballastd at start-up: its supervisors handshake for real
  kHandshake,       // `ballast doctor`
};

// Appends one result per plug-in, named "plugins.<name>".
void check_plugins(const Config& config, PluginProbe probe, std::vector<CheckResult>& results);

}  // namespace ballast::ops

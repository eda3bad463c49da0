#pragma once
// Reads the text of /proc/<pid>/cgroup: one line "hierarchy-id:controllers:path" per hierarchy,
// "0::/path" for the unified (v2) one and "N:memory:/path" or "N:cpu,cpuacct:/path" for v1.
// Thread-safe: a pure function of its arguments.

#include <optional>
#include <string>
#include <string_view>

namespace ballast {

// The cgroup path (e.g. "/system.slice/ballastd.service") of the v1 hierarchy that holds
// `controller`, or of the v2 hierarchy when `controller` is empty; nothing when no line names it.
std::optional<std::string> proc_cgroup_path(const std::string& proc_cgroup_text, std::string_view controller);

}  // namespace ballast

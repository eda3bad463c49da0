#pragma once
// The checks ballastd runs before it opens the journal or listens, and that `ballast doctor`
// runs against a stopped broker's configuration: configuration, the user, the data directory
// (exists or can be created, is a directory, owner, mode and ACLs let the broker's user read,
// write and create, the file system is writable), free space, the open-file limit, the cgroup
// memory limit, the data-directory lock, the listen ports and the plug-in executables (a
// warning only: plug-ins never stop the start, ops/plugin_checks.h). Every check runs, whatever
// the others found, so all problems are reported at once, each with its fix
// (docs/operations.md, "Start-up checks").
// Permission decisions are computed for the broker's user from stat and ACLs (user_access.h),
// so the doctor can run as root on behalf of server.user.
// Thread-safe: each call reads the file system and binds sockets only.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ops/check_result.h"
#include "ops/config.h"
#include "ops/user_access.h"

namespace ballast::ops {

enum class CheckMode {
  kDaemon,  // ballastd checking itself: the broker's user is the running user
  kDoctor,  // `ballast doctor`: the broker's user is server.user, else the invoking user
};

struct CheckOptions {
  CheckMode mode = CheckMode::kDaemon;
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  std::filesystem::path proc_self_cgroup = "/proc/self/cgroup";
  std::optional<uint64_t> open_file_limit;  // soft RLIMIT_NOFILE; read from the process when empty
};

struct StartupReport {
  UserIdentity user;        // whom the permission checks were made for
  std::string user_source;  // "server.user", "the invoking user" or "the running user"
  std::vector<CheckResult> results;
};

// File descriptors the broker holds whatever its queues: standard streams, the lock, the
// reserve, the checkpoint, listeners, event and timer descriptors of its threads.
inline constexpr uint64_t kBaseDescriptors = 64;

// Runs every check on `draft` (its problems are reported as the "config" check; the other
// checks use its values, defaults where a value was refused).
StartupReport run_startup_checks(const ConfigDraft& draft, const CheckOptions& options);

}  // namespace ballast::ops

#pragma once
// The memory limit the kernel's control groups put on this process: cgroup v2 memory.max or,
// where the memory controller is mounted as v1, memory.limit_in_bytes. The effective limit is
// the smallest one on the path from the process's cgroup up to the root of the hierarchy.
// The root is /sys/fs/cgroup unless BALLAST_CGROUP_ROOT (ballastd) or `ballast doctor
// --cgroup-root` points the check at a fake tree for tests.
// Thread-safe: reads files only.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace ballast::ops {

inline constexpr const char* kDefaultCgroupRoot = "/sys/fs/cgroup";

struct CgroupMemoryLimit {
  std::optional<uint64_t> limit_bytes;  // empty: no limit ("max")
  std::filesystem::path source;         // the file that sets it (or the last one read)
  int version = 0;                      // 1 or 2; 0 when no cgroup memory file was found
};

// `proc_self_cgroup` is the text of /proc/self/cgroup ("0::/path" for v2,
// "N:memory:/path" for the v1 memory controller, which wins when both are present).
CgroupMemoryLimit read_cgroup_memory_limit(const std::filesystem::path& cgroup_root,
                                           const std::string& proc_self_cgroup);

}  // namespace ballast::ops

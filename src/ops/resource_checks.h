#pragma once
// The resource part of the start-up checks (startup_checks.h): the open-file limit against
// what the broker holds open, and the cgroup memory limit against the memory the
// configuration commits (limits.max_memory_bytes, else storage.read_cache_bytes). Limits that
// have no setting yet (max connections) are said to be "not configured"; no number is made up
// for them.
// Thread-safe: reads files only.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ops/check_result.h"
#include "ops/config.h"

namespace ballast::ops {

// "descriptors": `soft_limit` (RLIMIT_NOFILE) against the journal's segments plus
// kBaseDescriptors. `limit_owner` says whose limit it is ("ballastd's", "this shell's").
void check_descriptors(const Config& config, uint64_t soft_limit, std::string_view limit_owner,
                       std::vector<CheckResult>& results);

// "memory": the cgroup memory limit (cgroup_memory.h) against limits.max_memory_bytes plus
// limits.max_request_bytes of headroom when the broker limit is set; else against
// storage.read_cache_bytes. Fails with BROKER_MEMORY_LIMIT.
void check_memory(const Config& config, const std::filesystem::path& cgroup_root,
                  const std::string& proc_self_cgroup, std::vector<CheckResult>& results);

}  // namespace ballast::ops

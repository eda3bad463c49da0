#include "ops/resource_checks.h"

#include <sys/resource.h>

#include <system_error>

#include "ops/cgroup_memory.h"
#include "ops/startup_checks.h"

namespace ballast::ops {
namespace {

uint64_t segment_count(const std::filesystem::path& journal_dir) {
  uint64_t count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(journal_dir, error)) {
    if (entry.path().extension() == ".seg") ++count;
  }
  return count;
}

}  // namespace

void check_descriptors(const Config& config, uint64_t soft_limit, std::string_view limit_owner,
                       std::vector<CheckResult>& results) {
  const uint64_t segments = segment_count(std::filesystem::path(config.data_dir) / "journal");
  const uint64_t needed = segments + kBaseDescriptors;
  const std::string limit_text = soft_limit == RLIM_INFINITY ? "unlimited" : std::to_string(soft_limit);
  const std::string facts = fmt::format(
      "open-file limit {} ({}); the journal's {} segments and {} descriptors the broker always holds "
      "need {}; max connections: not configured (no such setting yet), so connections are not counted",
      limit_text, limit_owner, segments, kBaseDescriptors, needed);
  if (soft_limit == RLIM_INFINITY || soft_limit >= needed) {
    results.push_back(passed("descriptors", facts));
    return;
  }
  results.push_back(problem("descriptors", CheckStatus::kFail,
                            Error(ErrorCode::kDescriptorLimit, facts,
                                  fmt::format("raise the open-file limit to at least {} (ulimit -n {}, or "
                                              "LimitNOFILE={} in the systemd unit)",
                                              needed, needed, needed))));
}

void check_memory(const Config& config, const std::filesystem::path& cgroup_root,
                  const std::string& proc_self_cgroup, std::vector<CheckResult>& results) {
  const CgroupMemoryLimit cgroup = read_cgroup_memory_limit(cgroup_root, proc_self_cgroup);
  constexpr std::string_view kNoBrokerLimit = "broker memory limit: not configured (no such setting yet)";
  if (cgroup.version == 0) {
    results.push_back(passed("memory", fmt::format("no cgroup memory controller found under {}; {}",
                                                   cgroup_root.string(), kNoBrokerLimit)));
    return;
  }
  if (!cgroup.limit_bytes) {
    results.push_back(passed("memory", fmt::format("cgroup v{}: no memory limit ({}); {}", cgroup.version,
                                                   cgroup.source.string(), kNoBrokerLimit)));
    return;
  }
  const std::string facts =
      fmt::format("cgroup v{} memory limit {} bytes ({}); storage.read_cache_bytes = {}; {}", cgroup.version,
                  *cgroup.limit_bytes, cgroup.source.string(), config.read_cache_bytes, kNoBrokerLimit);
  if (*cgroup.limit_bytes > config.read_cache_bytes) {
    results.push_back(passed("memory", facts));
    return;
  }
  results.push_back(problem(
      "memory", CheckStatus::kFail,
      Error(
          ErrorCode::kBrokerMemoryLimit,
          fmt::format("{}: the cache alone would fill the cgroup and the kernel would kill ballastd", facts),
          "raise the cgroup memory limit (systemd MemoryMax=, docker --memory) above "
          "storage.read_cache_bytes, or lower storage.read_cache_bytes")));
}

}  // namespace ballast::ops

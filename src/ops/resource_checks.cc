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

// With limits.max_memory_bytes set, the cgroup must leave room above it: the broker samples its
// memory 20 times a second and what it has accepted by then (up to one request of
// limits.max_request_bytes) lands above the limit before publishers are refused.
void check_broker_memory_limit(const Config& config, uint64_t cgroup_limit_bytes, const std::string& facts,
                               std::vector<CheckResult>& results) {
  const uint64_t needed = config.max_memory_bytes + config.max_request_bytes;
  if (cgroup_limit_bytes >= needed) {
    results.push_back(passed("memory", facts));
    return;
  }
  const uint64_t highest =
      cgroup_limit_bytes > config.max_request_bytes ? cgroup_limit_bytes - config.max_request_bytes : 0;
  results.push_back(problem(
      "memory", CheckStatus::kFail,
      Error(ErrorCode::kBrokerMemoryLimit,
            fmt::format("{}: the broker limit plus limits.max_request_bytes = {} of headroom (work accepted "
                        "as the limit is reached) needs {} bytes, so the kernel would kill ballastd before "
                        "it refuses publishes with BROKER_MEMORY_LIMIT",
                        facts, config.max_request_bytes, needed),
            fmt::format("lower limits.max_memory_bytes to at most {}, or raise the cgroup memory limit "
                        "(systemd MemoryMax=, docker --memory) to at least {}",
                        highest, needed))));
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
  const std::string broker_limit =
      config.max_memory_bytes == 0
          ? std::string("limits.max_memory_bytes = 0 (off: publishers are never refused for memory)")
          : fmt::format("limits.max_memory_bytes = {}", config.max_memory_bytes);
  if (cgroup.version == 0) {
    results.push_back(passed("memory", fmt::format("no cgroup memory controller found under {}; {}",
                                                   cgroup_root.string(), broker_limit)));
    return;
  }
  if (!cgroup.limit_bytes) {
    results.push_back(passed("memory", fmt::format("cgroup v{}: no memory limit ({}); {}", cgroup.version,
                                                   cgroup.source.string(), broker_limit)));
    return;
  }
  const std::string facts =
      fmt::format("cgroup v{} memory limit {} bytes ({}); storage.read_cache_bytes = {}; {}", cgroup.version,
                  *cgroup.limit_bytes, cgroup.source.string(), config.read_cache_bytes, broker_limit);
  if (config.max_memory_bytes != 0) {
    check_broker_memory_limit(config, *cgroup.limit_bytes, facts, results);
    return;
  }
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

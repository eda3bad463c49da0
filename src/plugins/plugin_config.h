#pragma once
// One configured plug-in (a `[[plugins]]` table, docs/plugins.md): what to run, which queues it
// filters, what happens to their publishes while it is down, and its deadlines and limits.
// Plain values; not thread-safe. ops/ builds these from the configuration file.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::plugins {

// What the broker does with a message for a filtered queue while its plug-in is down or slow.
enum class FilterPolicy : uint8_t {
  kHold,    // keep it in ballast.held.<queue> until the plug-in is back
  kBypass,  // store it unfiltered, tagged x-ballast-filter-bypassed
  kReject,  // refuse it with PLUGIN_UNAVAILABLE
};

// "hold" | "bypass" | "reject".
std::string_view filter_policy_name(FilterPolicy policy);

// The supervision timings of docs/plugins.md ("Supervision"). Only circuit_open_ms is a
// configuration key ([[plugins]] circuit_open_ms); the other defaults are the documented
// behaviour, which tests shorten.
struct SupervisionTimings {
  uint32_t backoff_initial_ms = 100;  // first restart delay
  uint32_t backoff_max_ms = 30000;    // the delay doubles up to this
  uint32_t stable_after_ms = 60000;   // a run this long resets the back-off and the breaker
  uint32_t circuit_failures = 5;      // failed starts in a row that open the breaker
  uint32_t circuit_open_ms = 60000;   // how long an open breaker holds off the next start
  uint32_t stop_grace_ms = 2000;      // SIGTERM, then SIGKILL after this

  bool operator==(const SupervisionTimings&) const = default;
};

// How a trigger's failed calls are retried (docs/plugins.md, "Triggers"): the [[plugins]] keys
// retry_initial_ms, retry_max_ms, max_attempts and concurrency. Triggers only.
struct TriggerRetry {
  uint32_t initial_ms = 1000;  // the delay after a first failed attempt
  uint32_t max_ms = 300000;    // the delay doubles up to this
  uint32_t max_attempts = 10;  // then the work item is dead-lettered with the last reason
  uint32_t concurrency = 4;    // work items in flight (called or waiting to retry) at once

  bool operator==(const TriggerRetry&) const = default;
};

// A filtered queue's held messages wait in "ballast.held.<queue>", which must fit the broker's
// 255-byte queue names.
inline constexpr size_t kMaxFilteredQueueNameBytes = 255 - std::string_view("ballast.held.").size();

inline constexpr std::string_view kFilterKind = "filter";
inline constexpr std::string_view kTriggerKind = "trigger";

struct PluginConfig {
  std::string name;                  // [a-z0-9._-]+, unique
  std::string kind = "filter";       // "filter" or "trigger"
  std::vector<std::string> command;  // argv; argv[0] absolute or found on PATH
  std::vector<std::string> queues;   // queues of vhost "/" it filters, or whose stored messages it hears of
  FilterPolicy policy = FilterPolicy::kHold;  // filters only
  TriggerRetry retry;                         // triggers only
  uint32_t call_timeout_ms = 1000;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t ping_interval_ms = 5000;
  uint64_t max_memory_bytes = 512ull << 20;    // RLIMIT_AS; 0 = none
  uint64_t max_open_files = 256;               // RLIMIT_NOFILE
  uint64_t cgroup_memory_max_bytes = 0;        // its cgroup's memory limit; 0 = not set
  uint64_t cgroup_pids_max = 0;                // its cgroup's process limit; 0 = not set
  uint32_t cgroup_cpu_max_percent = 0;         // its cgroup's CPU quota, % of one CPU; 0 = not set
  bool watch = false;                          // reload when the command's files change on disk
  uint32_t watch_interval_ms = 1000;           // how often they are checked
  std::map<std::string, std::string> options;  // handed to the plug-in in its hello
  SupervisionTimings timings;

  // Whether any cgroup_* key is set: the process then runs in a cgroup of its own
  // (plugin_cgroup.h).
  bool wants_cgroup() const {
    return cgroup_memory_max_bytes != 0 || cgroup_pids_max != 0 || cgroup_cpu_max_percent != 0;
  }

  bool operator==(const PluginConfig&) const = default;
};

}  // namespace ballast::plugins

#pragma once
// The broker-wide limits on growth: limits.max_disk_bytes (the journal's segment files in use)
// and limits.max_memory_bytes (the process's resident memory, util/process_memory.h). While
// either is reached, publishes and new queues are refused with BROKER_DISK_LIMIT or
// BROKER_MEMORY_LIMIT (through BrokerCore::growth_refusal, like a full disk), while acks,
// nacks, purges and deletes go on so consumers can bring use back down. Each clears by itself:
//  - disk: once reclamation (after a checkpoint) brings the segments in use to two segments
//    under the limit (kDiskResumeSegments). Compaction alone moves a segment's live messages
//    forward and frees it, which dips use by one segment without anything being consumed;
//    the margin keeps that from unblocking publishers. Recycled files in journal/free/ are not
//    counted: new segments reuse them before any new file.
//  - memory: once the resident set is below the limit minus 5% (kMemoryResumePercent), so that
//    publishers are not blocked and unblocked on every sample.
// Events (docs/events.md): broker.disk_limit_reached / _cleared, broker.memory_limit_reached /
// _cleared, broker.memory_unreadable.
// Not thread-safe: owned by the broker thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "storage/journal.h"
#include "util/result.h"

namespace ballast::broker {

// How much memory the broker uses, in bytes.
using MemoryProbe = std::function<Result<uint64_t>()>;

struct ResourceLimitOptions {
  uint64_t max_disk_bytes = 0;    // limits.max_disk_bytes; 0 = off
  uint64_t max_memory_bytes = 0;  // limits.max_memory_bytes; 0 = off
  std::string data_dir;           // storage.data_dir, for the messages
  uint64_t segment_bytes = 0;     // storage.segment_size
  uint32_t checkpoint_interval_ms = 0;
  uint64_t read_cache_bytes = 0;  // storage.read_cache_bytes, for the fix text
};

// True for the codes this class refuses with (the component "limits" in /healthz).
bool is_broker_limit(ErrorCode code);

class ResourceLimits {
 public:
  static constexpr uint64_t kMemoryResumePercent = 95;
  static constexpr uint64_t kDiskResumeSegments = 2;

  // `probe` null = the process's resident set from /proc/self/statm.
  ResourceLimits(ResourceLimitOptions options, MemoryProbe probe);

  // Why growth is refused now: the journal's segments in use (read from `journal` at this
  // moment) at or over the disk limit, or not yet back to the resume mark since the last
  // observe() saw the limit reached; or the last memory sample over the memory limit.
  std::optional<Error> refusal(const storage::Journal& journal) const;

  // Takes a memory sample (when the memory limit is on) and logs one event for each limit
  // reached or cleared since the last call. Called by the broker's tick.
  void observe(const storage::Journal& journal);

 private:
  uint64_t journal_bytes_in_use(const storage::Journal& journal) const;
  std::optional<Error> disk_refusal(uint64_t used_bytes) const;
  uint64_t disk_resume_bytes() const;
  std::optional<Error> memory_refusal() const;
  void sample_memory();
  void observe_disk(uint64_t used_bytes);

  ResourceLimitOptions options_;
  MemoryProbe probe_;
  uint64_t memory_bytes_ = 0;  // the last sample
  bool memory_over_ = false;   // reached, and not yet back under the resume mark
  bool disk_over_ = false;     // reached, and not yet back to the resume mark (as of observe())
  bool probe_failing_ = false;
};

}  // namespace ballast::broker

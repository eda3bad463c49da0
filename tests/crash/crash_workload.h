#pragma once
// The crash-consistency workload and its checker. A seeded sequence of publishes, acks,
// dead-letters, requeues and checkpoints runs against a broker on a FaultFileSystem until the
// first failure (the simulated crash); after a simulated power loss the broker is reopened on
// the real file system and every promise it made is checked:
//   - every confirmed, unsettled message is present exactly once, body intact;
//   - no acknowledged (confirmed) message is back;
//   - a confirmed dead-letter is in the dead-letter queue, not in its source.
// Not thread-safe; used by crash_consistency_test.cc only.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "storage/fault_file_system.h"
#include "storage/journal.h"

namespace ballast::crash {

struct CrashPoint {
  uint64_t call = 0;        // 0 = no crash (the reference run)
  uint64_t torn_bytes = 0;  // of the crashing write
  storage::PowerLossModel model = storage::PowerLossModel::kDropAllUnsynced;
  uint64_t loss_seed = 0;
  bool fail_sync_instead = false;  // inject one failed fsync at `call` (no crash)
  uint64_t fail_sync = 0;          // with a crash at `call`: the fail_sync-th fsync fails first
};

struct RunResult {
  uint64_t io_calls = 0;       // counted by the fault layer until the crash (or the end)
  uint64_t operations = 0;     // workload steps that were answered
  uint64_t dead_lettered = 0;  // confirmed dead-letters in the workload
  std::vector<std::string> violations;
};

struct WorkloadOptions {
  uint64_t seed = 1;
  int steps = 120;
  uint64_t segment_bytes = 8 << 10;
  storage::JournalDefect defect = storage::JournalDefect::kNone;
  // After a failed operation, wait (up to 5 s) for the broker to repair its journal, with a
  // storage self-check every 10 ms, and go on; a publish that failed must then never appear.
  bool repair_after_failure = false;
};

// Runs one crash point in a fresh directory under `scratch` and checks the recovered state.
RunResult run_crash_point(const std::filesystem::path& scratch, const WorkloadOptions& options,
                          const CrashPoint& point);

// A process crash (no power loss) inside the write of an atomic group of two records: the
// disk keeps exactly `header_bytes` bytes of the group's last record header, then garbage if
// `garbage_seed` is set.
struct TornHeaderPoint {
  uint64_t header_bytes = 0;  // 0 .. storage::kRecordHeaderBytes
  std::optional<uint64_t> garbage_seed;
  bool victim_is_ack = false;  // the torn group settles two messages instead of publishing two
};

// Publishes and acknowledges a few messages, tears the victim group as `point` says, recovers
// on the real file system and checks the invariants: every confirmed unsettled message present
// once and intact, no acknowledged one back, the torn group not applied (no victim message
// present; both victim acks undone), recovery succeeds and reports no damage.
RunResult run_torn_header_point(const std::filesystem::path& scratch, const TornHeaderPoint& point);

}  // namespace ballast::crash

#pragma once
// Salvage of a damaged journal (`ballast journal salvage`): copies every queue, exchange table
// and readable message of a STOPPED broker's data directory into a fresh journal. Never
// deletes or changes a byte of the original files:
//  - with an output directory, the original stays where it is, untouched, and the fresh
//    journal is written to the output directory (which must be missing or empty);
//  - in place (no output directory), the fresh journal is built beside the original, then the
//    original superblock, checkpoint and journal/ are moved (renamed, not copied) into
//    <data_dir>/quarantine/<stamp>/ and the fresh ones take their place.
// How: the original files are copied to a scratch directory, which a BrokerCore opens (the
// normal recovery: checkpoint, replay, damaged ranges quarantined, torn tail dropped), and
// BrokerCore::export_contents() hands everything it recovered to a new storage::Journal.
// The scratch copy is removed at the end; nothing else is removed.
// Also runs storage::verify_journal() on the original, so the report says where records were
// skipped even when the checkpoint covers them.
//
// Not thread-safe: one call at a time. Holds the original directory's lock throughout: fails
// with DATA_DIR_LOCKED naming the PID when a ballastd runs on it. When it returns success the
// fresh journal is fsynced and, in place, the renames are durable.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/damaged_queue_finder.h"
#include "storage/journal.h"
#include "storage/journal_verifier.h"
#include "util/result.h"

namespace ballast::broker {

struct SalvageOptions {
  std::filesystem::path data_dir;                   // the damaged directory
  std::optional<std::filesystem::path> output_dir;  // none: in place, originals quarantined
  std::string stamp;                                // names the quarantine and work folders (UTC time)
  uint64_t segment_bytes = 0;  // of the fresh journal; 0 = the original's largest segment file
};

// A message that could not be copied.
struct SkippedMessage {
  QueueName queue;
  storage::RecordLocation location;
  std::string reason;
};

struct SalvageReport {
  uint64_t queues = 0;
  uint64_t messages_copied = 0;
  uint64_t exchange_tables = 0;
  std::vector<SkippedMessage> skipped;                  // live messages whose records do not read
  std::vector<storage::JournalDamage> damage;           // what verify_journal() found in the original
  std::vector<std::set<QueueName>> damage_queues;       // per damage, the queues it touches
  std::vector<std::string> recovery_problems;           // what recovery reported (STORAGE_CORRUPT texts)
  std::filesystem::path journal_dir;                    // where the fresh journal is now
  std::optional<std::filesystem::path> quarantine_dir;  // in place: where the originals are now
};

// Fails with DATA_DIR_LOCKED, NOT_FOUND (no superblock), INVALID_ARGUMENT (an output directory
// that is not empty, or inside the data directory), STORAGE_* when a file cannot be read,
// copied or written. On failure before the renames, the original is untouched and the work
// folder named in the error is left for inspection.
Result<SalvageReport> salvage_journal(const SalvageOptions& options);

}  // namespace ballast::broker

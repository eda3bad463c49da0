#pragma once
// The journal: one append-only log shared by every queue, with group commit.
// (Format: docs/formats/journal.md; threads: docs/architecture.md.)
//
// Threading: one owner thread (the broker thread) calls append(), checkpoint(), read() and the
// accessors; the journal's own writer thread writes, fsyncs and invokes commit callbacks.
// read() may run on the owner thread while the writer writes. stats() and sticky_error() are
// thread-safe.
//
// Durability: append() only assigns sequence numbers and locations and queues the bytes.
// Its callback runs on the writer thread once the whole group is durable: after the fdatasync
// that covers it (sync mode kAlways), or once written (kInterval: synced within the interval,
// a documented loss window). One fdatasync covers every group queued before it.
// After any failed write or fsync the journal is failed: that fsync is never retried, every
// unconfirmed and later append fails with the first error. In sync mode kAlways, once a
// storage self-check passes the writer cuts the failed commits' bytes off the journal and opens
// a fresh segment (docs/formats/journal.md, "After a failed write or fsync"); the owner then
// calls resume_after_repair() and appends go on.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "storage/checkpoint_file.h"
#include "storage/data_dir_lock.h"
#include "storage/disk_reserve.h"
#include "storage/file_system.h"
#include "util/result.h"

namespace ballast::storage {

enum class SyncPolicy : uint8_t { kAlways, kInterval };

// Purpose-built broken variants, selected only by the crash-consistency test to prove that it
// catches them. Never set by ballastd.
enum class JournalDefect : uint8_t {
  kNone,
  kConfirmBeforeFsync,  // callbacks run after the write, before the fdatasync
  kSkipDirectoryFsync,  // new segment files are not made durable in the directory
  kRetryFailedFsync,    // a failed fdatasync is retried and reported as success
};

struct JournalOptions {
  std::filesystem::path data_dir;
  uint64_t segment_bytes = 64ull << 20;
  SyncPolicy sync_policy = SyncPolicy::kAlways;
  uint32_t sync_interval_ms = 200;
  // Under load (the previous batch held at least kBusyBatchRecords records) the writer starts
  // at most one batch per window, gathering what arrives meanwhile: fewer, larger fsyncs and
  // fewer thread wake-ups per message. A lone publisher never waits. 0 = off.
  uint32_t commit_window_us = 500;
  // How often the writer thread checks that it can still create, write, sync and remove a file
  // in the journal directory and open the current segment for writing afresh: a permission
  // change does not stop writes through descriptors already open, so without this it would be
  // found only when the next segment is needed. 0 = never: the default here, so that tests
  // which count file-system calls stay deterministic; ballastd sets 5000 (BrokerOptions).
  uint32_t self_check_interval_ms = 0;
  uint32_t max_free_segments = 4;     // reclaimed files kept for recycling
  uint64_t reserve_bytes = 0;         // storage.reserve_bytes (disk_reserve.h); 0 = none
  FileSystem* file_system = nullptr;  // not owned; must outlive the journal
  JournalDefect defect = JournalDefect::kNone;
};

struct RecordLocation {
  uint64_t segment_id = 0;
  uint32_t offset = 0;  // of the record header in the segment file
  uint32_t bytes = 0;   // header + payload
};

struct RecordToAppend {
  uint16_t type = 0;
  bool ignorable = false;
  std::string payload;
};

struct AppendedRecord {
  uint64_t seq = 0;
  RecordLocation location;
};

struct ReplayedRecord {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint64_t seq = 0;
  RecordLocation location;
  std::span<const std::byte> payload;  // valid during the apply_group() call only
};

// What recovery hands to the broker, in order.
class RecoveryVisitor {
 public:
  virtual ~RecoveryVisitor() = default;
  // Once, first, if a checkpoint exists.
  virtual void load_snapshot(std::span<const std::byte> snapshot) = 0;
  // Every complete atomic group after the checkpoint, oldest first.
  virtual void apply_group(std::span<const ReplayedRecord> group) = 0;
};

struct CorruptRange {
  uint64_t segment_id = 0;
  uint64_t first_offset = 0;
  uint64_t end_offset = 0;  // exclusive
  std::string reason;
};

struct RecoveryReport {
  bool had_checkpoint = false;
  uint64_t segments_replayed = 0;
  uint64_t records_replayed = 0;
  uint64_t last_seq = 0;
  std::optional<CorruptRange> torn_tail;  // truncated; never confirmed
  std::vector<CorruptRange> corrupt;      // STORAGE_CORRUPT: quarantined, reported
  std::vector<std::string> problems;      // R1 texts for each corrupt range / missing segment
};

struct JournalStats {
  uint64_t segments = 0;
  uint64_t bytes_on_disk = 0;  // segment files, including free ones
  uint64_t fsyncs = 0;
  uint64_t records_appended = 0;
  uint64_t groups_committed = 0;
  uint64_t free_segments = 0;
};

using CommitCallback = std::function<void(Status)>;

class Journal {
 public:
  static constexpr size_t kBusyBatchRecords = 32;
  static constexpr uint64_t kChunkReserveBytes = 1 << 20;

  // Locks the data directory, reads the superblock, loads the checkpoint, replays every record
  // after it into `visitor`, truncates a torn tail and opens a fresh segment for appending.
  static Result<std::unique_ptr<Journal>> open(const JournalOptions& options, RecoveryVisitor& visitor,
                                               RecoveryReport& report);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Starts the writer thread.
  void start();
  // Writes and syncs everything queued, runs the remaining callbacks, joins. Idempotent.
  void stop();

  // Queues `group` as one atomic unit (all records become visible after recovery, or none).
  // Fails at once (and calls nothing) when the journal is sticky-failed or the group cannot
  // fit in one segment (MESSAGE_TOO_LARGE).
  Result<std::vector<AppendedRecord>> append(std::vector<RecordToAppend> group, CommitCallback done);

  // The payload of the record at `where`, checked against its CRC: STORAGE_CORRUPT if not.
  Result<std::string> read(const RecordLocation& where);

  // Records a checkpoint covering everything appended so far. `snapshot` is the owner's index
  // at this moment; `live_segments` the segments still holding live records. Written by the
  // writer thread after the covering fsync; then reclaims older segments with nothing live.
  // `written`, if set, runs on the writer thread afterwards with the checkpoint's status.
  void checkpoint(std::string snapshot, std::set<uint64_t> live_segments, CommitCallback written = {});

  // The segment new appends go to; records before it are in older segments.
  uint64_t tail_segment() const { return tail_segment_; }
  // Largest group payload that fits in one segment.
  uint64_t max_group_bytes() const;
  std::optional<Error> sticky_error() const;
  // True once the writer has repaired the journal after a failed write or fsync: the owner may
  // call resume_after_repair() when it has undone every failed commit. Thread-safe.
  bool awaiting_resume() const;
  // Owner thread, after every failed commit's callback has been handled: clears the failure,
  // so appends go on from the last confirmed record (its sequence number + 1), in a fresh
  // segment; logs storage.write_recovered. False (and nothing changes) unless the journal is
  // awaiting resume with nothing queued.
  bool resume_after_repair();
  // The last self-check's failure (see JournalOptions::self_check_interval_ms), or nullopt once
  // a check has passed again. The owner refuses new messages while it is set. Thread-safe.
  std::optional<Error> self_check_error() const;
  JournalStats stats() const;

  // True while the journal runs on its disk reserve (the disk filled up): the owner should
  // accept only work that drains queues. Thread-safe.
  bool reserve_in_use() const;
  // Tries to allocate the reserve again; STORAGE_FULL while the disk is still full.
  // Thread-safe; called periodically by the owner while reserve_in_use().
  Status restore_reserve();

 private:
  struct Chunk {
    uint64_t segment_id = 0;
    uint64_t offset = 0;
    uint64_t first_seq = 0;
    bool starts_segment = false;
    std::string bytes;
  };
  struct Commit {
    uint64_t last_seq = 0;
    CommitCallback done;
  };
  struct PendingCheckpoint {
    CheckpointData data;
    std::set<uint64_t> live_segments;
    std::vector<CommitCallback> written;
  };
  // Just past the last record of a batch: its segment, end offset and last sequence number.
  struct RecordEnd {
    uint64_t segment_id = 0;
    uint64_t offset = 0;
    uint64_t seq = 0;
  };
  struct ResumePoint {
    uint64_t segment_id = 0;
    uint64_t next_seq = 0;
  };
  struct Batch {
    size_t records = 0;
    std::deque<Chunk> chunks;
    std::deque<Commit> commits;
    std::optional<PendingCheckpoint> checkpoint;
  };

  Journal(const JournalOptions& options, DataDirLock lock);
  std::filesystem::path journal_dir() const;
  std::filesystem::path segment_path(uint64_t segment_id) const;
  Status recover(RecoveryVisitor& visitor, RecoveryReport& report);
  Status replay_segment(uint64_t segment_id, uint64_t start_offset, bool is_last,
                        std::optional<uint64_t>& expected_seq, RecoveryVisitor& visitor,
                        RecoveryReport& report);
  Status truncate_torn_tail(File& file, uint64_t segment_id, uint64_t offset, uint64_t file_bytes,
                            RecoveryReport& report);
  Status drop_unconfirmed_tail_segment(uint64_t segment_id, std::string_view reason, RecoveryReport& report);
  Status open_tail_segment(uint64_t segment_id, uint64_t first_seq);

  void writer_loop();
  // Writer thread: a probe file in the data and journal directories, and a fresh open of the
  // current segment for writing.
  Status self_check();
  Status probe_directory(const std::filesystem::path& directory);
  void run_self_check();
  // Writer thread, after a passing self-check while failed: truncates the segment holding the
  // durable end to it, deletes newer segments and opens a fresh one (see the header comment).
  void repair_if_due();
  Status repair();
  static std::optional<RecordEnd> end_of(const Batch& batch);
  Status write_batch(Batch& batch);
  Status write_chunk(const Chunk& chunk);
  Status create_segment_file(uint64_t segment_id, uint64_t first_seq);
  // A free recycled file, or a new one allocated to full size (giving up the reserve when
  // the disk is full).
  Result<std::unique_ptr<File>> obtain_segment_file(const std::filesystem::path& path, bool& recycled);
  Status sync_segments();
  void finish_batch(Batch& batch, const Status& status);
  Status apply_checkpoint(PendingCheckpoint& pending);
  Status reclaim_segment(uint64_t segment_id);
  void fail_sticky(const Error& error);
  std::shared_ptr<File> reader_for(uint64_t segment_id);

  JournalOptions options_;
  FileSystem& fs_;
  DataDirLock lock_;
  DiskReserve reserve_;

  // Owner thread only.
  uint64_t next_seq_ = 1;
  uint64_t tail_segment_ = 0;
  uint64_t tail_offset_ = 0;

  // Writer thread only.
  std::unique_ptr<File> write_file_;
  uint64_t write_segment_ = 0;
  std::map<uint64_t, std::unique_ptr<File>> sealed_unsynced_;
  std::set<uint64_t> unsynced_segments_;
  RecordEnd written_end_;  // of the last batch written
  RecordEnd durable_end_;  // of the last batch whose commits were confirmed
  std::optional<std::string> last_repair_failure_;
  uint64_t repair_segment_ = 0;  // the fresh segment of the last repair attempt

  mutable std::mutex mu_;
  std::condition_variable wake_;
  Batch pending_;                                      // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  std::optional<Error> sticky_error_;                  // guarded by mu_
  std::optional<Error> self_check_error_;              // guarded by mu_
  std::optional<ResumePoint> repaired_;                // guarded by mu_
  std::set<uint64_t> segments_;                        // guarded by mu_
  std::vector<std::filesystem::path> free_files_;      // guarded by mu_
  std::map<uint64_t, std::shared_ptr<File>> readers_;  // guarded by mu_
  JournalStats stats_;                                 // guarded by mu_
  std::thread writer_;
};

}  // namespace ballast::storage

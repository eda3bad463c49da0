#pragma once
// A real file layer with faults: wraps PosixFileSystem (real files in a real directory) and
//  - fails a chosen call (by operation and occurrence) with a chosen errno;
//  - "crashes" at a chosen call: that call (a write may first be torn at a chosen byte) and
//    every later one fails with EIO, as if the process had died there;
//  - simulates power loss on demand: unsynced file contents and unsynced directory entries
//    (creates, renames, removes not followed by a directory fsync) are rolled back on disk,
//    as a PowerLossModel says (drop them all, keep a seeded prefix, choose per file, or keep
//    everything when only the process died);
//  - fails every call of an operation on files whose name matches a glob with a chosen errno,
//    until told otherwise (standing rules; set directly or from a watched fault-plan file);
//  - after a failed sync, drops that file's unsynced writes (what Linux does with the dirty
//    pages), so "retry the fsync" cannot hide a loss.
// Used by storage tests, the crash-consistency test and, in builds with
// BALLAST_FAULT_INJECTION only, by ballastd's hidden --fault-plan flag (docs/fault-injection.md).
// Not a mock: every byte lands on disk.
// Thread-safe (one mutex).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "storage/file_system.h"
#include "storage/posix_file_system.h"

namespace ballast::storage {

enum class FaultOp : uint8_t {
  kOpen,
  kWrite,
  kSync,
  kAllocate,
  kTruncate,
  kRename,
  kRemove,
  kSyncDirectory,
  kCreateDirectory
};

enum class PowerLossModel : uint8_t {
  kDropAllUnsynced,   // every unsynced write and directory change is lost
  kKeepSeededPrefix,  // per file, a seeded number of unsynced writes survive, the next torn;
                      // every unsynced directory change is lost
  // Each file independently (seeded): all its unsynced writes lost, all kept, or a prefix kept
  // with the next torn. Directory changes not yet synced survive as a seeded prefix of the
  // order they were made in (file systems journal metadata in order), the rest are undone.
  kIndependentPerFile,
  kProcessCrashOnly,  // the kernel survived: everything written stays (a crash, no power loss)
};

// A standing fault: every `op` on a file whose name matches `name_glob` (fnmatch) fails with
// `error_number`.
struct FaultRule {
  FaultOp op = FaultOp::kWrite;
  std::string name_glob;
  int error_number = 0;
};

class FaultPlanFile;

// What a crashing write leaves on disk, given the bytes it was asked to write: usually a
// prefix of them, possibly followed by garbage (a sector written with other content).
using TornWrite = std::function<std::string(std::span<const std::byte> data)>;

class FaultFileSystem final : public FileSystem {
 public:
  FaultFileSystem();
  ~FaultFileSystem() override;

  // The `occurrence`-th call (1-based) of `op` fails with `error_number`.
  void fail_call(FaultOp op, uint64_t occurrence, int error_number);
  // The next call of `op` fails with `error_number`.
  void fail_next_call(FaultOp op, int error_number);
  // The `call_number`-th counted call (1-based, every operation but reads) crashes; a write
  // that crashes first writes `torn_bytes` of its data (clamped to its length).
  void crash_at_call(uint64_t call_number, uint64_t torn_bytes);
  // As above, but if that call is a write, `torn` decides the bytes it leaves at its offset.
  void crash_at_call(uint64_t call_number, TornWrite torn);
  bool crashed() const;
  // Replaces the standing rules (an empty list injects nothing).
  void set_rules(std::vector<FaultRule> rules);
  // Re-reads the fault plan at `path` (fault_plan.h) when it changes, checked at most every
  // few milliseconds before a call, and applies its rules; logs fault_injection.plan_loaded
  // (or fault_injection.plan_invalid, which clears the rules).
  void watch_plan_file(const std::filesystem::path& path);
  // Counted calls so far (to size a run that crashes at every call).
  uint64_t calls() const;
  // Rolls back what a power loss would lose. Call after every user of this file system has
  // stopped; the files are then as a fresh boot would find them.
  void simulate_power_loss(PowerLossModel model, uint64_t seed);

  Result<std::unique_ptr<File>> open(const std::filesystem::path& path, OpenMode mode) override;
  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status remove(const std::filesystem::path& path) override;
  Status sync_directory(const std::filesystem::path& directory) override;
  Status create_directory(const std::filesystem::path& directory) override;
  Result<std::vector<std::string>> list_directory(const std::filesystem::path& directory) override;
  Result<bool> exists(const std::filesystem::path& path) override;

  struct FileState;
  struct DirectoryOp;

  // For FaultFile; not part of the contract.
  std::optional<Error> before_call(FaultOp op, const std::filesystem::path& path, uint64_t* torn_bytes);
  // The crashing write's bytes on disk: `prefix` (the first torn_bytes of `data`) unless a
  // TornWrite was given. Called with mutex() held, for the write that crashes only.
  std::string torn_write(std::span<const std::byte> prefix, std::span<const std::byte> data) const;
  std::mutex& mutex() { return mu_; }

 private:
  std::optional<Error> before_call_locked(FaultOp op, const std::filesystem::path& path,
                                          uint64_t* torn_bytes);
  // Undoes every pending directory change after the first `kept` (in the order they were made).
  void undo_directory_ops(size_t kept);
  void reload_plan_locked();
  std::optional<Error> standing_fault_locked(FaultOp op, const std::filesystem::path& path) const;
  void roll_back_file(File& file, FileState& state, PowerLossModel model, std::mt19937_64& random);

  mutable std::mutex mu_;
  PosixFileSystem real_;
  uint64_t calls_ = 0;
  std::map<FaultOp, uint64_t> op_counts_;
  std::map<std::pair<FaultOp, uint64_t>, int> planned_failures_;
  std::optional<uint64_t> crash_call_;
  uint64_t crash_torn_bytes_ = 0;
  TornWrite crash_torn_write_;
  std::vector<FaultRule> rules_;
  std::unique_ptr<FaultPlanFile> plan_file_;
  std::chrono::steady_clock::time_point next_plan_check_;
  bool crashed_ = false;
  uint64_t backup_counter_ = 0;
  uint64_t op_order_ = 0;
  std::map<std::filesystem::path, std::shared_ptr<FileState>> files_;
  std::map<std::filesystem::path, std::vector<DirectoryOp>> pending_directory_ops_;
};

}  // namespace ballast::storage

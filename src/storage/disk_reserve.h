#pragma once
// The disk reserve: a preallocated file (journal/reserve, storage.reserve_bytes) whose space
// is given up when a new journal segment cannot be allocated on a full disk. The journal then
// runs on the freed space, and the broker accepts only what drains (acks, settles, deletes)
// until restore() can allocate the reserve again: consumers can always drain a full disk.
// Thread-safe: one mutex; the journal's writer releases, the broker thread restores.

#include <cstdint>
#include <filesystem>
#include <mutex>

#include "storage/file_system.h"

namespace ballast::storage {

class DiskReserve {
 public:
  // `file_system` must outlive the reserve. bytes = 0 disables it.
  DiskReserve(FileSystem& file_system, std::filesystem::path path, uint64_t bytes);

  // Creates the reserve file if it is missing. On a full disk it is not an error: the reserve
  // starts out in use (reported by in_use()). Fails with other storage errors.
  Status ensure();
  // Deletes the reserve file to free its space; false if there was none to give.
  bool release();
  // Allocates the reserve again after release(); STORAGE_FULL while the disk is still full.
  Status restore();
  // True from release() (or a full disk at start) until restore() succeeds.
  bool in_use() const;
  uint64_t bytes() const { return bytes_; }

 private:
  Status allocate_locked();

  FileSystem& fs_;
  const std::filesystem::path path_;
  const uint64_t bytes_;
  mutable std::mutex mu_;
  bool in_use_ = false;  // guarded by mu_
};

}  // namespace ballast::storage

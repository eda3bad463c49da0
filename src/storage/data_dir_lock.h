#pragma once
// The exclusive lock on a data directory: flock(LOCK_EX) on <data_dir>/ballast.lock, which
// holds the owner's PID. A second ballastd on the same directory is refused with
// DATA_DIR_LOCKED naming the PID that holds it. The lock is released when the object is
// destroyed (or the process dies). Not thread-safe: owned by the journal.

#include <filesystem>

#include "util/result.h"

namespace ballast::storage {

class DataDirLock {
 public:
  static Result<DataDirLock> acquire(const std::filesystem::path& data_dir);
  // Whether the lock is free, without creating or writing anything (a check made by another
  // user must not leave a lock file the broker's user cannot open). A missing lock file is
  // free. Fails with DATA_DIR_LOCKED naming the PID that holds it, or an io_error() when the
  // lock file cannot be opened.
  static Status probe(const std::filesystem::path& data_dir);
  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ballast::storage

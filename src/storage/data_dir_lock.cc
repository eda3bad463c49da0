#include "storage/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "storage/io_error.h"

namespace ballast::storage {
namespace {

std::string read_pid(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string pid = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "unknown";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

Error locked_error(const std::filesystem::path& data_dir, const std::filesystem::path& path,
                   const std::string& holder) {
  return Error(ErrorCode::kDataDirLocked,
               fmt::format("data directory {} is in use by another ballastd (PID {}, holding "
                           "{})",
                           data_dir.string(), holder, path.string()),
               fmt::format("stop that process (kill {}) or give this one another "
                           "--data-dir",
                           holder));
}

}  // namespace

Status DataDirLock::probe(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / "ballast.lock";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return ok_status();
    return io_error(errno, "open the lock file", path);
  }
  const int locked = ::flock(fd, LOCK_EX | LOCK_NB);
  const int saved = errno;
  const std::string holder = locked == 0 ? "" : read_pid(fd);
  ::close(fd);  // also releases the probe's own lock
  if (locked == 0) return ok_status();
  if (saved != EWOULDBLOCK) return io_error(saved, "lock", path);
  return locked_error(data_dir, path, holder);
}

Result<DataDirLock> DataDirLock::acquire(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / "ballast.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return io_error(errno, "open the lock file", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    const std::string holder = read_pid(fd);
    ::close(fd);
    if (saved != EWOULDBLOCK) return io_error(saved, "lock", path);
    return locked_error(data_dir, path, holder);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    const int saved = errno;
    ::close(fd);
    return io_error(saved, "write the PID into", path);
  }
  return DataDirLock(fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ballast::storage

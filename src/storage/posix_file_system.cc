#include "storage/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "storage/io_error.h"

namespace ballast::storage {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  const std::filesystem::path& path() const override { return path_; }

  Status write_at(uint64_t offset, std::span<const std::byte> data) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error(errno, "write", path_);
      }
      done += static_cast<size_t>(n);
    }
    return ok_status();
  }

  Result<size_t> read_at(uint64_t offset, std::span<std::byte> out) override {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error(errno, "read", path_);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return io_error(errno, "fdatasync", path_);
    return ok_status();
  }

  Status allocate(uint64_t length) override {
    const int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(length));
    if (rc != 0) return io_error(rc, "preallocate", path_);
    return ok_status();
  }

  Status truncate(uint64_t length) override {
    if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) return io_error(errno, "truncate", path_);
    return ok_status();
  }

  Result<uint64_t> size() override {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return io_error(errno, "stat", path_);
    return static_cast<uint64_t>(info.st_size);
  }

 private:
  std::filesystem::path path_;
  int fd_;
};

int open_flags(OpenMode mode) {
  switch (mode) {
    case OpenMode::kReadOnly:
      return O_RDONLY;
    case OpenMode::kReadWrite:
      return O_RDWR;
    case OpenMode::kCreateExclusive:
      return O_RDWR | O_CREAT | O_EXCL;
    case OpenMode::kCreateTruncate:
      return O_RDWR | O_CREAT | O_TRUNC;
  }
  return O_RDONLY;
}

}  // namespace

Result<std::unique_ptr<File>> PosixFileSystem::open(const std::filesystem::path& path, OpenMode mode) {
  const int fd = ::open(path.c_str(), open_flags(mode) | O_CLOEXEC, 0640);
  if (fd < 0) {
    return io_error(errno, mode == OpenMode::kReadOnly ? "open for reading" : "open for writing", path);
  }
  return std::unique_ptr<File>(std::make_unique<PosixFile>(path, fd));
}

Status PosixFileSystem::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return io_error(errno, fmt::format("rename {} to", from.string()), to);
  }
  return ok_status();
}

Status PosixFileSystem::remove(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0) return io_error(errno, "delete", path);
  return ok_status();
}

Status PosixFileSystem::sync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(errno, "open directory", directory);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) return io_error(saved, "fsync directory", directory);
  return ok_status();
}

Status PosixFileSystem::create_directory(const std::filesystem::path& directory) {
  if (::mkdir(directory.c_str(), 0750) != 0 && errno != EEXIST) {
    return io_error(errno, "create directory", directory);
  }
  return ok_status();
}

Result<std::vector<std::string>> PosixFileSystem::list_directory(const std::filesystem::path& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return io_error(errno, "list directory", directory);
  std::vector<std::string> names;
  while (const struct dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

Result<bool> PosixFileSystem::exists(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return io_error(errno, "stat", path);
}

}  // namespace ballast::storage

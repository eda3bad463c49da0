#include "ops/data_dir_checks.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "storage/io_error.h"

namespace ballast::ops {
namespace {

constexpr size_t kMostDeniedEntries = 10;

std::filesystem::path nearest_existing(const std::filesystem::path& path) {
  std::filesystem::path candidate = std::filesystem::absolute(path).lexically_normal();
  std::error_code error;
  while (!std::filesystem::exists(candidate, error) && candidate != candidate.parent_path()) {
    candidate = candidate.parent_path();
  }
  return candidate;
}

DataDirState check_missing(const std::filesystem::path& data_dir, const UserIdentity& user,
                           std::vector<CheckResult>& results) {
  const std::filesystem::path parent = nearest_existing(data_dir);
  auto creatable =
      check_user_access(parent, kDirectoryAccess, fmt::format("create {} in", data_dir.string()), user);
  if (!creatable) {
    results.push_back(problem("data_dir.exists", CheckStatus::kFail, creatable.error()));
    return DataDirState::kUnusable;
  }
  results.push_back(passed("data_dir.exists",
                           fmt::format("{} does not exist yet; ballastd creates it ({} is writable by {})",
                                       data_dir.string(), parent.string(), user.name)));
  return DataDirState::kMissing;
}

// Entries directly in `dir` that `user` may not read and write (files) or use (directories);
// at most kMostDeniedEntries in all, so a wholly foreign tree does not flood the report.
void check_entries(const std::filesystem::path& dir, const UserIdentity& user,
                   std::vector<CheckResult>& results, size_t& denied) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (denied >= kMostDeniedEntries) return;
    std::error_code type_error;
    if (entry.is_symlink(type_error)) continue;
    const bool is_dir = entry.is_directory(type_error);
    if (!is_dir && !entry.is_regular_file(type_error)) continue;
    auto allowed = user_may(entry.path(), is_dir ? kDirectoryAccess : kFileAccess, user);
    if (allowed && *allowed) continue;
    ++denied;
    const Error cause =
        allowed ? storage::io_error(EACCES, is_dir ? "write in" : "read and write", entry.path(), user.uid)
                : allowed.error();
    results.push_back(problem("data_dir.contents", CheckStatus::kFail, cause));
  }
}

void check_contents(const std::filesystem::path& data_dir, const UserIdentity& user,
                    std::vector<CheckResult>& results) {
  size_t denied = 0;
  for (const auto& dir : broker_directories(data_dir)) check_entries(dir, user, results, denied);
  if (denied == 0) {
    results.push_back(passed(
        "data_dir.contents",
        fmt::format("{} may read and write every file in {} and journal/", user.name, data_dir.string())));
  }
}

uint64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

uint64_t journal_segment_bytes(const std::filesystem::path& journal_dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(journal_dir, error)) {
    if (entry.path().extension() == ".seg") bytes += file_size_or_zero(entry.path());
  }
  return bytes;
}

// "disk.limit" (only with limits.max_disk_bytes set): a warning when the file system cannot
// hold the journal up to its limit, so it would fill (STORAGE_FULL) before BROKER_DISK_LIMIT.
void check_disk_limit_fits(const Config& config, uint64_t free_bytes, uint64_t reserve_missing,
                           const std::filesystem::path& probe, std::vector<CheckResult>& results) {
  if (config.max_disk_bytes == 0) return;
  const uint64_t journal_bytes = journal_segment_bytes(std::filesystem::path(config.data_dir) / "journal");
  const uint64_t room = journal_bytes + (free_bytes > reserve_missing ? free_bytes - reserve_missing : 0);
  const std::string facts = fmt::format(
      "limits.max_disk_bytes = {}; the journal's segments use {} bytes and the file system of {} has "
      "{} bytes free ({} of them still owed to the reserve, storage.reserve_bytes)",
      config.max_disk_bytes, journal_bytes, probe.string(), free_bytes, reserve_missing);
  if (room >= config.max_disk_bytes) {
    results.push_back(passed("disk.limit", facts));
    return;
  }
  results.push_back(problem(
      "disk.limit", CheckStatus::kWarn,
      Error(ErrorCode::kBrokerDiskLimit,
            fmt::format("{}: the disk fills (STORAGE_FULL) before the broker limit is reached", facts),
            fmt::format("lower limits.max_disk_bytes to at most {}, or free space on that file system",
                        room))));
}

}  // namespace

std::vector<std::filesystem::path> broker_directories(const std::filesystem::path& data_dir) {
  std::vector<std::filesystem::path> dirs;
  for (const auto& dir : {data_dir, data_dir / "journal", data_dir / "journal" / "free"}) {
    std::error_code error;
    if (std::filesystem::is_directory(dir, error)) dirs.push_back(dir);
  }
  return dirs;
}

DataDirState check_data_dir(const Config& config, const UserIdentity& user,
                            std::vector<CheckResult>& results) {
  const std::filesystem::path data_dir = std::filesystem::absolute(config.data_dir).lexically_normal();
  struct stat info {};
  if (::stat(data_dir.c_str(), &info) != 0) {
    if (errno == ENOENT) return check_missing(data_dir, user, results);
    auto reachable = check_user_access(data_dir, kDirectoryAccess, "read, write and create files in", user);
    const Error cause =
        reachable ? storage::io_error(errno, "examine", data_dir, user.uid) : reachable.error();
    results.push_back(problem("data_dir.access", CheckStatus::kFail, cause));
    return DataDirState::kUnusable;
  }
  if (!S_ISDIR(info.st_mode)) {
    results.push_back(
        problem("data_dir.exists", CheckStatus::kFail,
                Error(ErrorCode::kStorageIoError,
                      fmt::format("storage.data_dir = {} exists but is not a directory", data_dir.string()),
                      "point storage.data_dir at a directory, or move that file away")));
    return DataDirState::kUnusable;
  }
  auto access = check_user_access(data_dir, kDirectoryAccess, "read, write and create files in", user);
  if (!access) {
    results.push_back(problem("data_dir.access", CheckStatus::kFail, access.error()));
    // Listing the entries needs the access that was just refused, unless this is root.
    if (::geteuid() != 0) return DataDirState::kUnusable;
  } else {
    results.push_back(passed("data_dir.access", fmt::format("{} may read, write and create files in {}",
                                                            user.name, data_dir.string())));
  }
  check_contents(data_dir, user, results);
  return access ? DataDirState::kUsable : DataDirState::kUnusable;
}

void check_file_system(const Config& config, std::vector<CheckResult>& results) {
  const std::filesystem::path probe = nearest_existing(config.data_dir);
  struct statvfs fs {};
  if (::statvfs(probe.c_str(), &fs) != 0) {
    results.push_back(problem("data_dir.filesystem", CheckStatus::kWarn,
                              storage::io_error(errno, "examine the file system of", probe)));
    return;
  }
  if ((fs.f_flag & ST_RDONLY) != 0) {
    results.push_back(
        problem("data_dir.filesystem", CheckStatus::kFail,
                Error(ErrorCode::kStorageIoError,
                      fmt::format("the file system holding {} is mounted read-only", probe.string()),
                      "remount it read-write (mount -o remount,rw MOUNTPOINT) or move storage.data_dir")));
  } else {
    results.push_back(
        passed("data_dir.filesystem", fmt::format("{} is on a writable file system", probe.string())));
  }
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const uint64_t reserve_held =
      file_size_or_zero(std::filesystem::path(config.data_dir) / "journal" / "reserve");
  const uint64_t reserve_missing =
      config.reserve_bytes > reserve_held ? config.reserve_bytes - reserve_held : 0;
  const uint64_t needed = config.segment_size + reserve_missing;
  const std::string facts = fmt::format(
      "{} bytes free on the file system of {}; a new segment (storage.segment_size = {}) and the "
      "missing part of the reserve (storage.reserve_bytes = {}, {} allocated) need {}; {}",
      free_bytes, probe.string(), config.segment_size, config.reserve_bytes, reserve_held, needed,
      config.max_disk_bytes == 0 ? std::string("limits.max_disk_bytes = 0 (off)")
                                 : fmt::format("limits.max_disk_bytes = {}", config.max_disk_bytes));
  check_disk_limit_fits(config, free_bytes, reserve_missing, probe, results);
  if (free_bytes >= needed) {
    results.push_back(passed("disk.free", facts));
    return;
  }
  // A warning, not a failure: ballastd starts on a full disk, serves consumers and refuses
  // publishes with STORAGE_FULL until space is free (PRODUCT.md R2).
  results.push_back(problem("disk.free", CheckStatus::kWarn,
                            Error(ErrorCode::kStorageFull, facts,
                                  "free space on that file system or move storage.data_dir to a larger "
                                  "one; until then publishes are refused with STORAGE_FULL")));
}

}  // namespace ballast::ops

#include "ops/data_dir_repair.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "ops/data_dir_checks.h"
#include "storage/io_error.h"

namespace ballast::ops {
namespace {

std::string group_name(gid_t gid) {
  struct group* entry = ::getgrgid(gid);
  return entry != nullptr ? entry->gr_name : std::to_string(gid);
}

// Creates the missing directories down to `data_dir` (give_to_user() then hands it over).
void create_missing(const std::filesystem::path& data_dir, RepairReport& report) {
  std::vector<std::filesystem::path> missing;
  std::error_code error;
  for (auto dir = data_dir; !std::filesystem::exists(dir, error) && dir != dir.parent_path();
       dir = dir.parent_path()) {
    missing.push_back(dir);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    // Parents must stay enterable by the broker's user; the data directory is its alone.
    const mode_t mode = *it == data_dir ? 0750 : 0755;
    if (::mkdir(it->c_str(), mode) != 0 && errno != EEXIST) {
      report.failures.push_back(storage::io_error(errno, "create", *it));
      return;
    }
    report.changes.push_back(fmt::format("created {} (mode {:04o})", it->string(), mode));
  }
}

Error symlink_refusal(const std::filesystem::path& path) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("{} is a symbolic link; --fix changes only real files and directories, so "
                           "that it never follows a link out of the data directory",
                           path.string()),
               "check where the link points, replace it with that directory (or point storage.data_dir "
               "at it), then run 'ballast doctor --fix' again");
}

// Opens `path` itself, never a symbolic link's target (O_NOFOLLOW), so that a link swapped in by
// the broker's user cannot redirect a root chown; -1 and a failure recorded if it cannot.
int open_no_follow(const std::filesystem::path& path, bool is_dir, RepairReport& report) {
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0);
  const int fd = ::open(path.c_str(), flags);
  if (fd >= 0) return fd;
  const int error_number = errno;
  struct stat info {};
  const bool is_link = ::lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode);
  report.failures.push_back(is_link ? symlink_refusal(path) : storage::io_error(error_number, "open", path));
  return -1;
}

// Gives the file open as `fd` to the broker's user with owner read/write (and search) rights,
// unless the user may already use it; false if a change failed.
bool hand_over(int fd, const std::filesystem::path& path, bool is_dir, const UserIdentity& user,
               RepairReport& report) {
  auto allowed = user_may(path, is_dir ? kDirectoryAccess : kFileAccess, user);
  if (allowed && *allowed) return true;
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    report.failures.push_back(storage::io_error(errno, "examine", path));
    return false;
  }
  if (info.st_uid != user.uid || info.st_gid != user.gid) {
    if (::fchown(fd, user.uid, user.gid) != 0) {
      report.failures.push_back(storage::io_error(errno, fmt::format("chown to {}", user.name), path));
      return false;
    }
    report.changes.push_back(fmt::format("chown {}:{} {}", user.name, group_name(user.gid), path.string()));
  }
  const mode_t wanted = is_dir ? S_IRWXU : (S_IRUSR | S_IWUSR);
  if ((info.st_mode & wanted) != wanted) {
    const mode_t mode = (info.st_mode & 07777) | wanted;
    if (::fchmod(fd, mode) != 0) {
      report.failures.push_back(storage::io_error(errno, "chmod", path));
      return false;
    }
    report.changes.push_back(
        fmt::format("chmod {:04o} {} (was {:04o})", mode, path.string(), info.st_mode & 07777));
  }
  return true;
}

// True if `path` is a real file or directory that the broker's user may now use.
bool give_to_user(const std::filesystem::path& path, bool is_dir, const UserIdentity& user,
                  RepairReport& report) {
  const int fd = open_no_follow(path, is_dir, report);
  if (fd < 0) return false;
  const bool ok = hand_over(fd, path, is_dir, user, report);
  ::close(fd);
  return ok;
}

void give_entries_to_user(const std::filesystem::path& dir, const UserIdentity& user, RepairReport& report) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    std::error_code type_error;
    if (entry.is_symlink(type_error)) continue;
    if (entry.is_regular_file(type_error)) give_to_user(entry.path(), false, user, report);
  }
}

}  // namespace

RepairReport repair_data_dir(const Config& config, const UserIdentity& user) {
  RepairReport report;
  const std::filesystem::path data_dir = std::filesystem::absolute(config.data_dir).lexically_normal();
  create_missing(data_dir, report);
  if (!report.failures.empty()) return report;
  for (const auto& dir : broker_directories(data_dir)) {
    // A directory that is a link (or cannot be opened) is reported, and nothing below it is touched.
    if (give_to_user(dir, true, user, report)) give_entries_to_user(dir, user, report);
  }
  return report;
}

}  // namespace ballast::ops

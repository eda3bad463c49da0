#include "ops/data_dir_repair.h"

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
void create_missing(const std::filesystem::path& data_dir, const UserIdentity& user, RepairReport& report) {
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

void give_to_user(const std::filesystem::path& path, bool is_dir, const UserIdentity& user,
                  RepairReport& report) {
  auto allowed = user_may(path, is_dir ? kDirectoryAccess : kFileAccess, user);
  if (allowed && *allowed) return;
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    report.failures.push_back(storage::io_error(errno, "examine", path));
    return;
  }
  if (info.st_uid != user.uid || info.st_gid != user.gid) {
    if (::lchown(path.c_str(), user.uid, user.gid) != 0) {
      report.failures.push_back(storage::io_error(errno, fmt::format("chown to {}", user.name), path));
      return;
    }
    report.changes.push_back(fmt::format("chown {}:{} {}", user.name, group_name(user.gid), path.string()));
  }
  const mode_t wanted = is_dir ? S_IRWXU : (S_IRUSR | S_IWUSR);
  if ((info.st_mode & wanted) != wanted) {
    const mode_t mode = (info.st_mode & 07777) | wanted;
    if (::chmod(path.c_str(), mode) != 0) {
      report.failures.push_back(storage::io_error(errno, "chmod", path));
      return;
    }
    report.changes.push_back(
        fmt::format("chmod {:04o} {} (was {:04o})", mode, path.string(), info.st_mode & 07777));
  }
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
  create_missing(data_dir, user, report);
  if (!report.failures.empty()) return report;
  for (const auto& dir : broker_directories(data_dir)) {
    give_to_user(dir, true, user, report);
    give_entries_to_user(dir, user, report);
  }
  return report;
}

}  // namespace ballast::ops

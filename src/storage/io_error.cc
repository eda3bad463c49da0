#include "storage/io_error.h"

#include <acl/libacl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace ballast::storage {
namespace {

std::string user_name(uid_t uid) {
  struct passwd* entry = getpwuid(uid);
  return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

std::string group_name(gid_t gid) {
  struct group* entry = getgrgid(gid);
  return entry != nullptr ? entry->gr_name : std::to_string(gid);
}

// ", ACL user::rwx,user:nobody:r-x,..." when `path` has an extended access ACL (named users or
// groups, a mask), which mode bits alone do not explain; else empty.
std::string acl_text(const std::filesystem::path& path) {
  if (::acl_extended_file(path.c_str()) != 1) return "";
  acl_t acl = ::acl_get_file(path.c_str(), ACL_TYPE_ACCESS);
  if (acl == nullptr) return "";
  char* text = ::acl_to_any_text(acl, nullptr, ',', 0);
  std::string result = text != nullptr ? fmt::format(", ACL {}", text) : "";
  ::acl_free(text);
  ::acl_free(acl);
  return result;
}

// The path itself if it exists, else its nearest existing parent.
std::filesystem::path existing_ancestor(const std::filesystem::path& path) {
  std::filesystem::path candidate = path;
  struct stat info {};
  while (!candidate.empty() && ::stat(candidate.c_str(), &info) != 0) {
    if (candidate == candidate.parent_path()) break;
    candidate = candidate.parent_path();
  }
  return candidate;
}

Error permission_error(int error_number, std::string_view operation, const std::filesystem::path& path,
                       uid_t uid) {
  const std::string user = user_name(uid);
  // Deleting or renaming is decided by the directory's permissions, not the file's.
  const bool directory_decides = operation == "delete" || operation.starts_with("rename");
  const std::filesystem::path owner_path = existing_ancestor(directory_decides ? path.parent_path() : path);
  struct stat info {};
  std::string ownership = "its owner could not be read";
  if (::stat(owner_path.c_str(), &info) == 0) {
    ownership =
        fmt::format("{} is owned by {}:{}, mode {:04o}{}", owner_path.string(), user_name(info.st_uid),
                    group_name(info.st_gid), info.st_mode & 07777, acl_text(owner_path));
  }
  return Error(ErrorCode::kStoragePermissionDenied,
               fmt::format("cannot {} {}: {} for user {} (uid {}); {}", operation, path.string(),
                           std::strerror(error_number), user, uid, ownership),
               fmt::format("chown {}: {} and make it writable by its owner (chmod u+rwX), or "
                           "remove the ACL entry that denies it; 'ballast doctor' shows the check",
                           user, owner_path.string()));
}

Error full_error(int error_number, std::string_view operation, const std::filesystem::path& path) {
  return Error(ErrorCode::kStorageFull,
               fmt::format("cannot {} {}: {} ({} on the file system holding it)", operation, path.string(),
                           std::strerror(error_number), free_space_text(path)),
               "free space on that file system or move storage.data_dir to a larger one; "
               "consumers can still drain queues, and publishing resumes once space is free");
}

}  // namespace

std::string free_space_text(const std::filesystem::path& path) {
  struct statvfs fs {};
  if (::statvfs(existing_ancestor(path).c_str(), &fs) != 0) return "free space unknown";
  return fmt::format("{} bytes free of {}", static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize,
                     static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize);
}

Error io_error(int error_number, std::string_view operation, const std::filesystem::path& path) {
  return io_error(error_number, operation, path, ::geteuid());
}

Error io_error(int error_number, std::string_view operation, const std::filesystem::path& path, uid_t user) {
  if (error_number == EACCES || error_number == EPERM) {
    return permission_error(error_number, operation, path, user);
  }
  if (error_number == ENOSPC || error_number == EDQUOT) {
    return full_error(error_number, operation, path);
  }
  std::string fix =
      "check the kernel log (dmesg) for disk errors; after a failed journal write or fsync the "
      "journal refuses writes (a failed fsync is never retried) until a storage self-check passes "
      "and it has cut the failed commits off (storage.write_recovered), with no restart (sync "
      "mode 'interval' needs a restart); retry what was refused";
  if (error_number == EROFS) fix = "remount the file system read-write";
  return Error(ErrorCode::kStorageIoError,
               fmt::format("cannot {} {}: {} (errno {})", operation, path.string(),
                           std::strerror(error_number), error_number),
               std::move(fix));
}

}  // namespace ballast::storage

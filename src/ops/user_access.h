#pragma once
// Whether a given user may use a path, decided from stat(2) and the POSIX access ACL, the way
// the kernel decides (acl(5): owner, named user & mask, owning and named groups & mask,
// other; root may read and write anything and enter any directory).
// Why computed instead of trying as that user (fork + setresuid + access/open): `ballast
// doctor` usually runs as root for the broker's user, and a computed answer needs no child
// process, cannot leave files behind and names the entry that decides. What it cannot see:
// read-only mounts (checked separately with statvfs), LSMs such as SELinux or AppArmor, and
// capabilities other than root's; ballastd's storage self-check probes for real at run time.
// Thread-safe: reads the file system and the user database only.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "util/result.h"

namespace ballast::ops {

struct UserIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, the primary one included
  std::string name;           // from the user database, else the uid as digits
};

// The effective user, group and supplementary groups of this process.
UserIdentity current_identity();

// The user `name` (or a numeric uid) from the user database, with its groups.
// Fails with CONFIG_INVALID when there is no such user.
Result<UserIdentity> identity_for_user(const std::string& name);

enum class Access : unsigned { kRead = 4, kWrite = 2, kSearch = 1 };
// What a broker needs: directories rwx (list, create, enter), files rw.
inline constexpr unsigned kDirectoryAccess = 7;
inline constexpr unsigned kFileAccess = 6;

// Whether `user` has every permission bit of `wanted` (4 read, 2 write, 1 search/execute) on
// `path` itself (its ancestors are not looked at). Fails with the io_error() of stat when
// `path` cannot be examined.
Result<bool> user_may(const std::filesystem::path& path, unsigned wanted, const UserIdentity& user);

// Checks that `user` may enter every directory above `path` and has `wanted` on `path`.
// Fails with STORAGE_PERMISSION_DENIED naming the first path that denies it, the user, and
// that path's owner, mode and ACL (storage::io_error); `operation` completes "cannot ...".
Status check_user_access(const std::filesystem::path& path, unsigned wanted, std::string_view operation,
                         const UserIdentity& user);

}  // namespace ballast::ops

#pragma once
// Turns an errno from a storage operation into an R1 Error:
//   EACCES, EPERM      -> STORAGE_PERMISSION_DENIED, naming the running user (name and uid),
//                         the file's (or its directory's) owner and mode, and the chown/chmod fix
//   ENOSPC, EDQUOT     -> STORAGE_FULL, naming the free bytes of the file system
//   EROFS and others   -> STORAGE_IO_ERROR, naming the errno text
// Thread-safe.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ballast::storage {

// "N bytes free of M" for the file system holding `path` (or its nearest existing ancestor),
// or "free space unknown".
std::string free_space_text(const std::filesystem::path& path);

// `operation` is a verb phrase such as "write", "fdatasync", "create".
Error io_error(int error_number, std::string_view operation, const std::filesystem::path& path);

// As above, but a permission error names `user` instead of the running user: for checks made
// on behalf of another user (ballast doctor run as root for the broker's user).
Error io_error(int error_number, std::string_view operation, const std::filesystem::path& path, uid_t user);

}  // namespace ballast::storage

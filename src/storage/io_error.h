#pragma once
// Turns an errno from a storage operation into an R1 Error:
//   EACCES, EPERM      -> STORAGE_PERMISSION_DENIED, naming the running user (name and uid),
//                         the file's (or its directory's) owner and mode, and the chown/chmod fix
//   ENOSPC, EDQUOT     -> STORAGE_FULL, naming the free bytes of the file system
//   EROFS and others   -> STORAGE_IO_ERROR, naming the errno text
// Thread-safe.

#include <filesystem>
#include <string_view>

#include "util/result.h"

namespace ballast::storage {

// `operation` is a verb phrase such as "write", "fdatasync", "create".
Error io_error(int error_number, std::string_view operation, const std::filesystem::path& path);

}  // namespace ballast::storage

#pragma once
// Replaces a small file atomically and durably: write `<name>.tmp`, fsync it, rename it over
// `<name>`, fsync the directory. After success the new contents survive a crash; after a
// failure the old contents (or no file) remain. Thread-safe if callers use distinct names.

#include <filesystem>
#include <string>
#include <string_view>

#include "storage/file_system.h"

namespace ballast::storage {

Status replace_file_atomically(FileSystem& fs, const std::filesystem::path& path, std::string_view contents);

// Reads a whole small file. Fails with the storage error naming the path.
Result<std::string> read_whole_file(FileSystem& fs, const std::filesystem::path& path);

}  // namespace ballast::storage

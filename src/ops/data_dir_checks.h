#pragma once
// The data-directory part of the start-up checks (startup_checks.h): whether storage.data_dir
// exists or can be created, is a directory, and lets the broker's user read, write and create
// in it and in journal/ (and read and write their files); whether its file system is
// writable; and whether it has room for a new segment and the disk reserve.
// Thread-safe: reads the file system only.

#include <vector>

#include "ops/check_result.h"
#include "ops/config.h"
#include "ops/user_access.h"

namespace ballast::ops {

// How usable the data directory is, for the checks that depend on it.
enum class DataDirState { kMissing, kUsable, kUnusable };

// Appends the data_dir.* results; returns the directory's state.
DataDirState check_data_dir(const Config& config, const UserIdentity& user,
                            std::vector<CheckResult>& results);

// Appends "data_dir.filesystem" (read-only mount), "disk.free" (room for a new segment and
// the reserve) and, with limits.max_disk_bytes set, "disk.limit" (a warning, BROKER_DISK_LIMIT,
// when the file system cannot hold the journal up to that limit).
void check_file_system(const Config& config, std::vector<CheckResult>& results);

// The directories under the data directory that the broker writes in: itself, journal/ and
// journal/free/ (those that exist).
std::vector<std::filesystem::path> broker_directories(const std::filesystem::path& data_dir);

}  // namespace ballast::ops

#pragma once
// The data directory's identity: <data_dir>/superblock (docs/formats/journal.md). Created on
// first start, replaced atomically; a format version newer than this binary's is refused.
// Not thread-safe: called once at start-up.

#include <cstdint>
#include <filesystem>

#include "storage/file_system.h"

namespace ballast::storage {

inline constexpr uint32_t kJournalFormatVersion = 1;

struct Superblock {
  uint32_t format_version = kJournalFormatVersion;
  uint64_t compatible_features = 0;
  uint64_t incompatible_features = 0;
  int64_t created_at_ms = 0;
};

// Reads the superblock, or creates it when the directory holds none. Fails with
// STORAGE_CORRUPT (bad magic or checksum), or INVALID_ARGUMENT for a newer format or unknown
// incompatible features (naming both versions and the fix: run the newer ballastd).
Result<Superblock> load_or_create_superblock(FileSystem& fs, const std::filesystem::path& data_dir,
                                             int64_t now_ms);

// Reads the superblock without ever writing: for the offline tools. Fails as above, and with
// NOT_FOUND when `data_dir` holds no superblock (it is not a Ballast data directory).
Result<Superblock> read_superblock(FileSystem& fs, const std::filesystem::path& data_dir);

}  // namespace ballast::storage

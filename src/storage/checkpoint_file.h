#pragma once
// The index checkpoint: <data_dir>/checkpoint (docs/formats/journal.md, "Checkpoint").
// Written atomically, only after every record it covers is durable. Not thread-safe: the
// journal's writer thread writes it; recovery reads it.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "storage/file_system.h"

namespace ballast::storage {

struct CheckpointData {
  uint64_t covered_seq = 0;     // every record with seq <= this is reflected in `snapshot`
  uint64_t replay_segment = 0;  // replay resumes here...
  uint64_t replay_offset = 0;   // ...at this byte offset
  std::string snapshot;         // the broker's index, opaque to storage
};

Status write_checkpoint(FileSystem& fs, const std::filesystem::path& data_dir,
                        const CheckpointData& checkpoint);

// None when no checkpoint was ever written. STORAGE_CORRUPT when it fails its checksum.
Result<std::optional<CheckpointData>> read_checkpoint(FileSystem& fs, const std::filesystem::path& data_dir);

}  // namespace ballast::storage

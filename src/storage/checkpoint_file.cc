#include "storage/checkpoint_file.h"

#include "storage/atomic_file.h"
#include "util/bytes.h"
#include "util/crc32c.h"

namespace ballast::storage {
namespace {
constexpr std::string_view kMagic = "BLSTCKPT";
constexpr uint32_t kVersion = 1;
constexpr size_t kFixedBytes = 48;
}  // namespace

Status write_checkpoint(FileSystem& fs, const std::filesystem::path& data_dir,
                        const CheckpointData& checkpoint) {
  std::string body;
  ByteWriter body_writer(body);
  body_writer.u64(checkpoint.covered_seq);
  body_writer.u64(checkpoint.replay_segment);
  body_writer.u64(checkpoint.replay_offset);
  body_writer.u64(checkpoint.snapshot.size());
  body.append(checkpoint.snapshot);
  std::string out;
  ByteWriter writer(out);
  writer.raw(kMagic);
  writer.u32(kVersion);
  writer.u32(crc32c(std::as_bytes(std::span(body))));
  out.append(body);
  return replace_file_atomically(fs, data_dir / "checkpoint", out);
}

Result<std::optional<CheckpointData>> read_checkpoint(FileSystem& fs, const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / "checkpoint";
  auto present = fs.exists(path);
  if (!present) return std::move(present).error();
  if (!*present) return std::optional<CheckpointData>();
  auto bytes = read_whole_file(fs, path);
  if (!bytes) return std::move(bytes).error();
  const std::string_view text = *bytes;
  CheckpointData checkpoint;
  uint32_t version = 0, stored_crc = 0;
  uint64_t snapshot_bytes = 0;
  ByteReader reader(text.size() >= 8 ? text.substr(8) : std::string_view());
  const bool parsed = text.size() >= kFixedBytes && text.substr(0, 8) == kMagic && reader.u32(version) &&
                      reader.u32(stored_crc) && version == kVersion &&
                      stored_crc == crc32c(std::as_bytes(std::span(text.substr(16)))) &&
                      reader.u64(checkpoint.covered_seq) && reader.u64(checkpoint.replay_segment) &&
                      reader.u64(checkpoint.replay_offset) && reader.u64(snapshot_bytes) &&
                      snapshot_bytes == reader.remaining();
  if (!parsed) {
    return Error(
        ErrorCode::kStorageCorrupt,
        fmt::format("checkpoint {} is damaged (bad magic, version, length or checksum)", path.string()),
        "move the file away and restart: recovery then replays every segment still "
        "on disk; queues whose records were reclaimed must be restored from a backup");
  }
  checkpoint.snapshot.assign(text.substr(kFixedBytes));
  return std::optional<CheckpointData>(std::move(checkpoint));
}

}  // namespace ballast::storage

#include "storage/superblock.h"

#include "storage/atomic_file.h"
#include "util/bytes.h"
#include "util/crc32c.h"

namespace ballast::storage {
namespace {

constexpr std::string_view kMagic = "BALLASTJ";
constexpr size_t kBytes = 64;

std::string encode(const Superblock& block) {
  std::string out;
  ByteWriter writer(out);
  writer.raw(kMagic);
  writer.u32(block.format_version);
  writer.u32(kBytes);
  writer.u64(block.compatible_features);
  writer.u64(block.incompatible_features);
  writer.i64(block.created_at_ms);
  out.resize(60, '\0');
  writer.u32(crc32c(std::as_bytes(std::span(out.data(), 60))));
  return out;
}

Result<Superblock> decode(const std::string& bytes, const std::filesystem::path& path) {
  const auto corrupt = [&](std::string_view why) {
    return Error(ErrorCode::kStorageCorrupt, fmt::format("superblock {} {}", path.string(), why),
                 "restore the data directory from a backup, or move it away to start empty");
  };
  if (bytes.size() < kBytes || std::string_view(bytes).substr(0, 8) != kMagic) {
    return corrupt("does not start with the Ballast magic");
  }
  ByteReader reader(std::string_view(bytes).substr(8, 60 - 8));
  Superblock block;
  uint32_t header_bytes = 0;
  const bool parsed = reader.u32(block.format_version) && reader.u32(header_bytes) &&
                      reader.u64(block.compatible_features) && reader.u64(block.incompatible_features) &&
                      reader.i64(block.created_at_ms);
  uint32_t stored_crc = 0;
  ByteReader crc_reader(std::string_view(bytes).substr(60, 4));
  if (!parsed || !crc_reader.u32(stored_crc) ||
      stored_crc != crc32c(std::as_bytes(std::span(bytes.data(), 60)))) {
    return corrupt("fails its checksum");
  }
  if (block.format_version > kJournalFormatVersion || block.incompatible_features != 0) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("{} is journal format {} (incompatible features {:#x}); this "
                    "ballastd reads format {} only",
                    path.string(), block.format_version, block.incompatible_features, kJournalFormatVersion),
        "run the ballastd version that wrote this data directory");
  }
  return block;
}

}  // namespace

Result<Superblock> load_or_create_superblock(FileSystem& fs, const std::filesystem::path& data_dir,
                                             int64_t now_ms) {
  const std::filesystem::path path = data_dir / "superblock";
  auto present = fs.exists(path);
  if (!present) return std::move(present).error();
  if (*present) {
    auto bytes = read_whole_file(fs, path);
    if (!bytes) return std::move(bytes).error();
    return decode(*bytes, path);
  }
  Superblock block;
  block.created_at_ms = now_ms;
  auto status = replace_file_atomically(fs, path, encode(block));
  if (!status) return std::move(status).error();
  return block;
}

Result<Superblock> read_superblock(FileSystem& fs, const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / "superblock";
  auto present = fs.exists(path);
  if (!present) return std::move(present).error();
  if (!*present) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("{} does not exist, so {} is not a Ballast data directory", path.string(),
                             data_dir.string()),
                 "give the directory that ballastd's storage.data_dir (--data-dir) names");
  }
  auto bytes = read_whole_file(fs, path);
  if (!bytes) return std::move(bytes).error();
  return decode(*bytes, path);
}

}  // namespace ballast::storage

#include "storage/segment_header.h"

#include <fmt/format.h>

#include <charconv>

#include "util/bytes.h"
#include "util/crc32c.h"

namespace ballast::storage {
namespace {
constexpr std::string_view kMagic = "BLSTSEG1";
constexpr uint32_t kVersion = 1;
}  // namespace

std::string encode_segment_header(const SegmentHeader& header) {
  std::string out;
  ByteWriter writer(out);
  writer.raw(kMagic);
  writer.u32(kVersion);
  writer.u32(kSegmentHeaderBytes);
  writer.u64(header.segment_id);
  writer.u32(header.generation);
  writer.u32(0);
  writer.u64(header.first_seq);
  out.resize(60, '\0');
  writer.u32(crc32c(std::as_bytes(std::span(out.data(), 60))));
  return out;
}

std::optional<SegmentHeader> decode_segment_header(std::span<const std::byte> bytes) {
  if (bytes.size() < kSegmentHeaderBytes) return std::nullopt;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), kSegmentHeaderBytes);
  if (text.substr(0, 8) != kMagic) return std::nullopt;
  ByteReader reader(text.substr(8));
  uint32_t version = 0, header_bytes = 0, reserved = 0, stored_crc = 0;
  SegmentHeader header;
  const bool parsed = reader.u32(version) && reader.u32(header_bytes) && reader.u64(header.segment_id) &&
                      reader.u32(header.generation) && reader.u32(reserved) && reader.u64(header.first_seq);
  ByteReader crc_reader(text.substr(60, 4));
  if (!parsed || version != kVersion || !crc_reader.u32(stored_crc) ||
      stored_crc != crc32c(bytes.first(60))) {
    return std::nullopt;
  }
  return header;
}

std::string segment_file_name(uint64_t segment_id) {
  return fmt::format("{:016x}.seg", segment_id);
}

std::optional<uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != 20 || !name.ends_with(".seg")) return std::nullopt;
  uint64_t id = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + 16, id, 16);
  if (error != std::errc() || end != name.data() + 16) return std::nullopt;
  return id;
}

}  // namespace ballast::storage

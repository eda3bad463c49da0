#pragma once
// The 64-byte header at the start of every segment file and the segment file names
// (docs/formats/journal.md, "Segment file"). Thread-safe: pure functions.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ballast::storage {

inline constexpr uint64_t kSegmentHeaderBytes = 64;

struct SegmentHeader {
  uint64_t segment_id = 0;
  uint32_t generation = 0;
  uint64_t first_seq = 0;
};

// The generation stamped on a segment's records: the low 32 bits of its never-reused id.
inline uint32_t generation_of(uint64_t segment_id) {
  return static_cast<uint32_t>(segment_id);
}

std::string encode_segment_header(const SegmentHeader& header);
// None if the bytes are not a valid header (bad magic, version or checksum, or too short).
std::optional<SegmentHeader> decode_segment_header(std::span<const std::byte> bytes);

// "00000000000000a1.seg"
std::string segment_file_name(uint64_t segment_id);
std::optional<uint64_t> parse_segment_file_name(std::string_view name);

}  // namespace ballast::storage

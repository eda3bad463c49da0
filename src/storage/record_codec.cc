#include "storage/record_codec.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "util/bytes.h"
#include "util/check.h"
#include "util/crc32c.h"

namespace ballast::storage {

void encode_record(std::string& out, uint16_t type, uint16_t flags, uint32_t generation, uint64_t seq,
                   std::span<const std::byte> payload) {
  const size_t start = out.size();
  ByteWriter writer(out);
  writer.u32(0);  // CRC, filled in below
  writer.u32(static_cast<uint32_t>(payload.size()));
  writer.u16(type);
  writer.u16(flags);
  writer.u32(generation);
  writer.u64(seq);
  out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  const auto covered = std::as_bytes(std::span(out.data() + start + 4, out.size() - start - 4));
  const uint32_t crc = crc32c(covered);
  for (int i = 0; i < 4; ++i) out[start + i] = static_cast<char>((crc >> (8 * i)) & 0xFFu);
}

const char* decode_status_name(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::kOk:
      return "ok";
    case DecodeStatus::kTruncated:
      return "truncated";
    case DecodeStatus::kZero:
      return "zero";
    case DecodeStatus::kBadLength:
      return "bad_length";
    case DecodeStatus::kBadGeneration:
      return "stale_generation";
    case DecodeStatus::kBadCrc:
      return "bad_crc";
  }
  return "unknown";
}

DecodedRecord decode_record(std::span<const std::byte> input, uint32_t expected_generation,
                            uint32_t max_payload_bytes) {
  DecodedRecord result;
  if (input.size() < kRecordHeaderBytes) {
    const bool all_zero =
        std::all_of(input.begin(), input.end(), [](std::byte b) { return b == std::byte{0}; });
    result.status = all_zero && !input.empty() ? DecodeStatus::kZero : DecodeStatus::kTruncated;
    return result;
  }
  ByteReader reader(input.first(kRecordHeaderBytes));
  RecordHeader& header = result.header;
  const bool parsed = reader.u32(header.crc) && reader.u32(header.payload_bytes) && reader.u16(header.type) &&
                      reader.u16(header.flags) && reader.u32(header.generation) && reader.u64(header.seq);
  BALLAST_CHECK(parsed, "a {}-byte header did not parse from {} bytes", kRecordHeaderBytes, input.size());
  if (header.crc == 0 && header.payload_bytes == 0 && header.type == 0 && header.seq == 0) {
    result.status = DecodeStatus::kZero;
    return result;
  }
  if (header.generation != expected_generation) {
    result.status = DecodeStatus::kBadGeneration;
    return result;
  }
  if (header.payload_bytes > max_payload_bytes) {
    result.status = DecodeStatus::kBadLength;
    return result;
  }
  const size_t total = kRecordHeaderBytes + header.payload_bytes;
  if (input.size() < total) {
    result.status = DecodeStatus::kTruncated;
    return result;
  }
  if (crc32c(input.subspan(4, total - 4)) != header.crc) {
    result.status = DecodeStatus::kBadCrc;
    return result;
  }
  result.status = DecodeStatus::kOk;
  result.payload = input.subspan(kRecordHeaderBytes, header.payload_bytes);
  result.total_bytes = total;
  return result;
}

std::optional<uint64_t> find_next_record(std::span<const std::byte> bytes, uint64_t from, uint32_t generation,
                                         uint64_t min_seq, uint32_t max_payload_bytes) {
  std::array<std::byte, 4> generation_bytes;
  for (size_t i = 0; i < generation_bytes.size(); ++i) {
    generation_bytes[i] = static_cast<std::byte>((generation >> (8 * i)) & 0xFFu);
  }
  constexpr size_t kGenerationOffset = 12;
  for (uint64_t offset = from + 1; offset + kRecordHeaderBytes <= bytes.size(); ++offset) {
    // Cheap filter first: most offsets (a zero tail, a body) do not carry the generation.
    if (std::memcmp(bytes.data() + offset + kGenerationOffset, generation_bytes.data(), 4) != 0) continue;
    const auto decoded = decode_record(bytes.subspan(offset), generation, max_payload_bytes);
    if (decoded.status == DecodeStatus::kOk && decoded.header.seq > min_seq) return offset;
  }
  return std::nullopt;
}

}  // namespace ballast::storage

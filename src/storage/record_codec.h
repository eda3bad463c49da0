#pragma once
// Encodes and decodes journal records (docs/formats/journal.md, "Record").
// Decoding never reads past its input and never aborts: a short, zero or damaged record is a
// status the segment reader turns into "end of data", "torn tail" or STORAGE_CORRUPT.
// Thread-safe: pure functions.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ballast::storage {

inline constexpr size_t kRecordHeaderBytes = 24;

// Record flags (u16).
inline constexpr uint16_t kRecordIgnorable = 1u << 0;       // unknown type may be skipped
inline constexpr uint16_t kRecordGroupContinues = 1u << 1;  // atomic group goes on after this

struct RecordHeader {
  uint32_t crc = 0;
  uint32_t payload_bytes = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t generation = 0;
  uint64_t seq = 0;
};

// Appends the encoded record (header + payload) to `out`.
void encode_record(std::string& out, uint16_t type, uint16_t flags, uint32_t generation, uint64_t seq,
                   std::span<const std::byte> payload);

inline size_t encoded_record_bytes(size_t payload_bytes) {
  return kRecordHeaderBytes + payload_bytes;
}

enum class DecodeStatus : uint8_t {
  kOk,
  kTruncated,      // the input ends inside the record
  kZero,           // an all-zero header: never-written (preallocated) space
  kBadLength,      // payload length over max_payload_bytes
  kBadGeneration,  // written by an earlier incarnation of a recycled file
  kBadCrc,
};

const char* decode_status_name(DecodeStatus status);

struct DecodedRecord {
  DecodeStatus status = DecodeStatus::kTruncated;
  RecordHeader header;
  std::span<const std::byte> payload;  // points into the input
  size_t total_bytes = 0;              // header + payload
};

DecodedRecord decode_record(std::span<const std::byte> input, uint32_t expected_generation,
                            uint32_t max_payload_bytes);

// Offset of the first valid record of `generation` with a sequence number above `min_seq` that
// starts after `from`, searching byte by byte; none if there is none. This is how a reader
// finds where to resume after damage.
std::optional<uint64_t> find_next_record(std::span<const std::byte> bytes, uint64_t from, uint32_t generation,
                                         uint64_t min_seq, uint32_t max_payload_bytes);

}  // namespace ballast::storage

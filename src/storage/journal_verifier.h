#pragma once
// Reads a stopped broker's whole journal without writing a byte: the superblock, the
// checkpoint, and every record of every segment from its start (recovery reads only what
// follows the checkpoint), and says where it is damaged. The rules are recovery's
// (docs/formats/journal.md, "Record"): a record is valid when it decodes, carries its
// segment's generation and follows the previous sequence number; after an invalid one, reading
// resumes at the next valid record of the segment.
//
// Used by `ballast journal verify` and by salvage (src/broker/journal_salvage.h).
// Not thread-safe: one call at a time; the inspector is called on the calling thread.
// Durability: reads only. The caller holds the data-directory lock, so no ballastd writes
// while it reads.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "storage/file_system.h"
#include "util/result.h"

namespace ballast::storage {

enum class DamageStatus : uint8_t {
  kBadCrc,            // the record's checksum does not match its bytes
  kBadLength,         // its payload length is larger than the segment
  kStaleGeneration,   // its generation is not the segment's (left from an earlier use of the file)
  kTruncated,         // its length runs past the end of the file
  kZeroHeader,        // an all-zero header with valid records after it
  kOutOfSequence,     // a valid record whose sequence number does not follow the previous one
  kBadSegmentHeader,  // the segment's 64-byte header does not decode or names another segment
  kMissingSegment,    // the segment where the checkpoint says replay starts is gone
  kBadCheckpoint,     // the checkpoint file fails its checksum
};

// "bad_crc", "bad_length", "stale_generation", "truncated", "zero_header", "out_of_sequence",
// "bad_segment_header", "missing_segment", "bad_checkpoint".
const char* damage_status_name(DamageStatus status);

struct JournalDamage {
  std::string file;         // relative to the data directory: "journal/0000000000000001.seg"
  uint64_t segment_id = 0;  // 0 when the file is not a segment (the checkpoint)
  uint64_t offset = 0;      // first unreadable byte
  uint64_t end_offset = 0;  // exclusive: where reading resumed, or the file's size
  DamageStatus status = DamageStatus::kBadCrc;
  std::string detail;  // what was seen, e.g. "sequence 17 where 12 was expected"
};

struct VerifiedRecord {
  uint64_t segment_id = 0;
  uint64_t offset = 0;  // of the record header in the segment file
  uint16_t type = 0;
  uint16_t flags = 0;
  uint64_t seq = 0;
  std::span<const std::byte> payload;  // valid during the record() call only
};

// What the verifier hands its caller, in file order. The bytes are valid during the call only.
class JournalInspector {
 public:
  virtual ~JournalInspector() = default;
  // Once, first, with the checkpoint's broker snapshot, when the checkpoint reads.
  virtual void snapshot(std::span<const std::byte> snapshot) = 0;
  // Every valid record: segments by id, records by offset.
  virtual void record(const VerifiedRecord& record) = 0;
  // Every damaged range as it is found (not the torn tail); `bytes` are the range's raw bytes.
  virtual void damage(const JournalDamage& damage, std::span<const std::byte> bytes) = 0;
};

struct VerifyReport {
  uint64_t segments_read = 0;
  uint64_t records = 0;
  uint64_t record_bytes = 0;  // headers and payloads of the valid records
  bool had_checkpoint = false;
  std::vector<JournalDamage> damage;
  // Ends of segments that were being written when the broker stopped (the newest segment's
  // torn tail, or unsynced writes a crash left behind): never confirmed, so warnings, not
  // damage.
  std::vector<JournalDamage> torn_tails;
};

// Verifies the journal in `data_dir`. Precondition: the caller holds the directory's
// DataDirLock, so that no ballastd writes meanwhile. Damage is in the report, not an error. Fails with
// NOT_FOUND when `data_dir` has no superblock, INVALID_ARGUMENT for a newer format, STORAGE_CORRUPT when the
// superblock fails its checksum, and STORAGE_PERMISSION_DENIED / STORAGE_IO_ERROR when a file cannot be read.
Result<VerifyReport> verify_journal(FileSystem& file_system, const std::filesystem::path& data_dir,
                                    JournalInspector& inspector);

}  // namespace ballast::storage

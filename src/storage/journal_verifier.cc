#include "storage/journal_verifier.h"

#include <algorithm>
#include <limits>

#include "storage/checkpoint_file.h"
#include "storage/record_codec.h"
#include "storage/segment_header.h"
#include "storage/superblock.h"

namespace ballast::storage {

namespace fs = std::filesystem;

namespace {

std::string segment_relative_path(uint64_t segment_id) {
  return "journal/" + segment_file_name(segment_id);
}

bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

DamageStatus damage_status_of(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::kBadCrc:
      return DamageStatus::kBadCrc;
    case DecodeStatus::kBadLength:
      return DamageStatus::kBadLength;
    case DecodeStatus::kBadGeneration:
      return DamageStatus::kStaleGeneration;
    case DecodeStatus::kTruncated:
      return DamageStatus::kTruncated;
    case DecodeStatus::kZero:
      return DamageStatus::kZeroHeader;
    case DecodeStatus::kOk:
      return DamageStatus::kOutOfSequence;
  }
  return DamageStatus::kBadCrc;
}

Result<std::string> read_file(FileSystem& file_system, const fs::path& path) {
  auto file = file_system.open(path, OpenMode::kReadOnly);
  if (!file) return std::move(file).error();
  return read_whole(**file);
}

// The first sequence number of the segment's header, if the header reads.
Result<std::optional<uint64_t>> first_seq_of(FileSystem& file_system, const fs::path& path) {
  auto file = file_system.open(path, OpenMode::kReadOnly);
  if (!file) return std::move(file).error();
  std::string header(kSegmentHeaderBytes, '\0');
  auto read = (*file)->read_at(0, std::as_writable_bytes(std::span(header)));
  if (!read) return std::move(read).error();
  const auto decoded = decode_segment_header(std::as_bytes(std::span(header)).first(*read));
  if (!decoded) return std::optional<uint64_t>();
  return std::optional<uint64_t>(decoded->first_seq);
}

// One segment file being read.
struct Segment {
  uint64_t id = 0;
  std::span<const std::byte> bytes;
  bool is_last = false;                    // the newest segment: its torn end is a warning
  std::optional<uint64_t> next_first_seq;  // the next segment's first sequence number
  uint32_t max_payload = 0;

  JournalDamage range(uint64_t offset, uint64_t end, DamageStatus status, std::string detail) const {
    return JournalDamage{segment_relative_path(id), id, offset, end, status, std::move(detail)};
  }
};

class Verifier {
 public:
  Verifier(FileSystem& file_system, const fs::path& data_dir, JournalInspector& inspector)
      : file_system_(file_system), data_dir_(data_dir), inspector_(inspector) {}

  Result<VerifyReport> run() {
    auto superblock = read_superblock(file_system_, data_dir_);
    if (!superblock) return std::move(superblock).error();
    auto ids = segment_ids();
    if (!ids) return std::move(ids).error();
    auto status = read_checkpoint_into(*ids);
    if (!status) return std::move(status).error();
    for (size_t i = 0; i < ids->size(); ++i) {
      status = verify_segment(*ids, i);
      if (!status) return std::move(status).error();
    }
    return std::move(report_);
  }

 private:
  Result<std::vector<uint64_t>> segment_ids() {
    std::vector<uint64_t> ids;
    auto present = file_system_.exists(data_dir_ / "journal");
    if (!present) return std::move(present).error();
    if (!*present) return ids;
    auto names = file_system_.list_directory(data_dir_ / "journal");
    if (!names) return std::move(names).error();
    for (const std::string& name : *names) {
      if (auto id = parse_segment_file_name(name)) ids.push_back(*id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  Status read_checkpoint_into(const std::vector<uint64_t>& ids) {
    auto checkpoint = read_checkpoint(file_system_, data_dir_);
    if (!checkpoint && checkpoint.error().code() != ErrorCode::kStorageCorrupt) {
      return std::move(checkpoint).error();
    }
    if (!checkpoint) {
      add_damage({"checkpoint", 0, 0, 0, DamageStatus::kBadCheckpoint, checkpoint.error().message()}, {});
      return ok_status();
    }
    if (!checkpoint->has_value()) return ok_status();
    const CheckpointData& data = **checkpoint;
    report_.had_checkpoint = true;
    inspector_.snapshot(std::as_bytes(std::span(data.snapshot)));
    const bool missing = !std::binary_search(ids.begin(), ids.end(), data.replay_segment);
    if (missing && !ids.empty() && ids.back() > data.replay_segment) {
      add_damage({segment_relative_path(data.replay_segment), data.replay_segment, 0, 0,
                  DamageStatus::kMissingSegment,
                  fmt::format("the checkpoint says replay starts in it at offset {}", data.replay_offset)},
                 {});
    }
    return ok_status();
  }

  Status verify_segment(const std::vector<uint64_t>& ids, size_t index) {
    const fs::path path = data_dir_ / segment_relative_path(ids[index]);
    auto contents = read_file(file_system_, path);
    if (!contents) return std::move(contents).error();
    Segment segment;
    segment.id = ids[index];
    segment.bytes = std::as_bytes(std::span(*contents));
    segment.is_last = index + 1 == ids.size();
    segment.max_payload =
        static_cast<uint32_t>(std::min<uint64_t>(contents->size(), std::numeric_limits<uint32_t>::max()));
    if (!segment.is_last) {
      auto next = first_seq_of(file_system_, data_dir_ / segment_relative_path(ids[index + 1]));
      if (!next) return std::move(next).error();
      segment.next_first_seq = *next;
    }
    ++report_.segments_read;
    walk(segment);
    return ok_status();
  }

  void walk(const Segment& segment) {
    const auto header = decode_segment_header(segment.bytes);
    if (!header || header->segment_id != segment.id) return bad_header(segment);
    uint64_t expected_seq = header->first_seq;
    uint64_t offset = kSegmentHeaderBytes;
    while (offset < segment.bytes.size()) {
      const auto decoded =
          decode_record(segment.bytes.subspan(offset), generation_of(segment.id), segment.max_payload);
      if (decoded.status != DecodeStatus::kOk || decoded.header.seq != expected_seq) {
        auto resume = after_invalid(segment, offset, decoded, expected_seq);
        if (!resume) return;
        offset = *resume;
        expected_seq = read_seq(segment, offset);
        continue;
      }
      inspector_.record({segment.id, offset, decoded.header.type, decoded.header.flags, decoded.header.seq,
                         decoded.payload});
      ++report_.records;
      report_.record_bytes += decoded.total_bytes;
      ++expected_seq;
      offset += decoded.total_bytes;
    }
  }

  uint64_t read_seq(const Segment& segment, uint64_t offset) const {
    return decode_record(segment.bytes.subspan(offset), generation_of(segment.id), segment.max_payload)
        .header.seq;
  }

  // Classifies the invalid record at `offset`; returns where valid records resume, if anywhere.
  std::optional<uint64_t> after_invalid(const Segment& segment, uint64_t offset, const DecodedRecord& decoded,
                                        uint64_t expected_seq) {
    const uint32_t generation = generation_of(segment.id);
    const auto resume =
        find_next_record(segment.bytes, offset, generation, expected_seq - 1, segment.max_payload);
    const bool looks_like_end =
        decoded.status == DecodeStatus::kZero || decoded.status == DecodeStatus::kBadGeneration ||
        (decoded.status == DecodeStatus::kTruncated && all_zero(segment.bytes.subspan(offset)));
    const uint64_t end = resume.value_or(segment.bytes.size());
    const DamageStatus status = damage_status_of(decoded.status);
    std::string detail =
        decoded.status == DecodeStatus::kOk
            ? fmt::format("sequence {} where {} was expected", decoded.header.seq, expected_seq)
            : fmt::format("record {} was expected here", expected_seq);
    if (looks_like_end) detail += "; recovery stops reading this segment here, before valid records";
    if (!resume && looks_like_end) return std::nullopt;  // the end of the written part
    if (!resume && segment.is_last) {
      report_.torn_tails.push_back(
          segment.range(offset, end, status, "never confirmed: written when the broker stopped"));
      return std::nullopt;
    }
    if (resume && looks_like_end && unconfirmed_leftover(segment, read_seq(segment, *resume))) {
      report_.torn_tails.push_back(segment.range(
          offset, segment.bytes.size(), status,
          "unsynced writes left by a crash; recovery ignored them and reused their sequence numbers"));
      return std::nullopt;
    }
    add_damage(segment.range(offset, end, status, std::move(detail)),
               segment.bytes.subspan(offset, end - offset));
    return resume;
  }

  // Records after a hole whose sequence numbers the next segment reused (or that sit in the
  // newest segment) were never synced, so never confirmed.
  static bool unconfirmed_leftover(const Segment& segment, uint64_t resumed_seq) {
    if (segment.is_last) return true;
    return segment.next_first_seq && *segment.next_first_seq <= resumed_seq;
  }

  void bad_header(const Segment& segment) {
    const uint32_t generation = generation_of(segment.id);
    const bool has_records =
        segment.bytes.size() > kSegmentHeaderBytes &&
        find_next_record(segment.bytes, kSegmentHeaderBytes - 1, generation, 0, segment.max_payload)
            .has_value();
    const uint64_t end = segment.bytes.size();
    if (segment.is_last && !has_records) {
      report_.torn_tails.push_back(segment.range(0, end, DamageStatus::kBadSegmentHeader,
                                                 "created when the broker stopped; holds no record"));
      return;
    }
    add_damage(segment.range(0, end, DamageStatus::kBadSegmentHeader,
                             "the 64-byte segment header does not decode or names another segment"),
               segment.bytes);
  }

  void add_damage(JournalDamage damage, std::span<const std::byte> bytes) {
    inspector_.damage(damage, bytes);
    report_.damage.push_back(std::move(damage));
  }

  FileSystem& file_system_;
  const fs::path& data_dir_;
  JournalInspector& inspector_;
  VerifyReport report_;
};

}  // namespace

const char* damage_status_name(DamageStatus status) {
  switch (status) {
    case DamageStatus::kBadCrc:
      return "bad_crc";
    case DamageStatus::kBadLength:
      return "bad_length";
    case DamageStatus::kStaleGeneration:
      return "stale_generation";
    case DamageStatus::kTruncated:
      return "truncated";
    case DamageStatus::kZeroHeader:
      return "zero_header";
    case DamageStatus::kOutOfSequence:
      return "out_of_sequence";
    case DamageStatus::kBadSegmentHeader:
      return "bad_segment_header";
    case DamageStatus::kMissingSegment:
      return "missing_segment";
    case DamageStatus::kBadCheckpoint:
      return "bad_checkpoint";
  }
  return "unknown";
}

Result<VerifyReport> verify_journal(FileSystem& file_system, const std::filesystem::path& data_dir,
                                    JournalInspector& inspector) {
  return Verifier(file_system, data_dir, inspector).run();
}

}  // namespace ballast::storage

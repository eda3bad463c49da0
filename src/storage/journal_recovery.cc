// Journal::open and recovery: checkpoint load, replay, torn-tail and damage handling.
// See docs/formats/journal.md for the rules implemented here.
#include <algorithm>
#include <chrono>

#include "storage/journal.h"
#include "storage/record_codec.h"
#include "storage/segment_header.h"
#include "storage/superblock.h"
#include "util/check.h"
#include "util/log.h"

namespace ballast::storage {

namespace fs = std::filesystem;

namespace {

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status create_directories(FileSystem& file_system, const fs::path& directory) {
  std::vector<fs::path> missing;
  for (fs::path path = directory; !path.empty(); path = path.parent_path()) {
    auto present = file_system.exists(path);
    if (!present) return std::move(present).error();
    if (*present) break;
    missing.push_back(path);
    if (path == path.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    auto status = file_system.create_directory(*it);
    if (!status) return status;
  }
  return ok_status();
}

// Replay state carried across segments.
struct ReplayCursor {
  std::optional<uint64_t> expected_seq;  // unknown until the first record when no checkpoint
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_progress = started;
};

void report_corrupt(RecoveryReport& report, const fs::path& path, CorruptRange range) {
  report.problems.push_back(
      fmt::format("STORAGE_CORRUPT: {} bytes {}..{} cannot be read ({}); the records there are quarantined",
                  path.string(), range.first_offset, range.end_offset, range.reason));
  log::event(log::Level::kError, "storage.corrupt_range",
             {log::kv("code", "STORAGE_CORRUPT"), log::kv("segment", path.filename().string()),
              log::kv("first_offset", range.first_offset), log::kv("end_offset", range.end_offset),
              log::kv("reason", range.reason)});
  report.corrupt.push_back(std::move(range));
}

void log_progress(ReplayCursor& cursor) {
  const auto now = std::chrono::steady_clock::now();
  if (now - cursor.last_progress < std::chrono::seconds(2) || cursor.bytes_total == 0) return;
  cursor.last_progress = now;
  const double fraction = static_cast<double>(cursor.bytes_done) / static_cast<double>(cursor.bytes_total);
  const double elapsed = std::chrono::duration<double>(now - cursor.started).count();
  const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
  log::event(log::Level::kInfo, "storage.replay_progress",
             {log::kv("percent", fmt::format("{:.1f}", fraction * 100)),
              log::kv("eta_seconds", fmt::format("{:.0f}", eta))});
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(const JournalOptions& options, RecoveryVisitor& visitor,
                                               RecoveryReport& report) {
  BALLAST_CHECK(options.file_system != nullptr, "JournalOptions.file_system is required");
  BALLAST_CHECK(options.segment_bytes > kSegmentHeaderBytes + kRecordHeaderBytes,
                "segment size {} is too small", options.segment_bytes);
  FileSystem& file_system = *options.file_system;
  auto status = create_directories(file_system, options.data_dir);
  if (!status) return std::move(status).error();
  auto lock = DataDirLock::acquire(options.data_dir);
  if (!lock) return std::move(lock).error();
  auto superblock = load_or_create_superblock(file_system, options.data_dir, wall_clock_ms());
  if (!superblock) return std::move(superblock).error();
  for (const fs::path& directory : {options.data_dir / "journal", options.data_dir / "journal" / "free"}) {
    status = file_system.create_directory(directory);
    if (!status) return std::move(status).error();
  }
  status = file_system.sync_directory(options.data_dir);
  if (status) status = file_system.sync_directory(options.data_dir / "journal");
  if (!status) return std::move(status).error();
  std::unique_ptr<Journal> journal(new Journal(options, std::move(*lock)));
  status = journal->recover(visitor, report);
  if (!status) return std::move(status).error().with_context("recovering the journal");
  status = journal->reserve_.ensure();
  if (!status) return std::move(status).error().with_context("creating the disk reserve");
  return journal;
}

Status Journal::recover(RecoveryVisitor& visitor, RecoveryReport& report) {
  auto names = fs_.list_directory(journal_dir());
  if (!names) return std::move(names).error();
  std::vector<uint64_t> ids;
  for (const std::string& name : *names) {
    if (auto id = parse_segment_file_name(name)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  auto free_names = fs_.list_directory(journal_dir() / "free");
  if (!free_names) return std::move(free_names).error();
  for (const std::string& name : *free_names) {
    if (parse_segment_file_name(name)) free_files_.push_back(journal_dir() / "free" / name);
  }
  segments_.insert(ids.begin(), ids.end());

  ReplayCursor cursor;
  uint64_t start_segment = ids.empty() ? 0 : ids.front();
  uint64_t start_offset = kSegmentHeaderBytes;
  auto checkpoint = read_checkpoint(fs_, options_.data_dir);
  if (!checkpoint) {
    report.problems.push_back(checkpoint.error().describe());
    log::event(
        log::Level::kError, "storage.checkpoint_unreadable",
        {log::kv("code", checkpoint.error().code_name()), log::kv("message", checkpoint.error().message())});
  } else if (checkpoint->has_value()) {
    const CheckpointData& data = **checkpoint;
    report.had_checkpoint = true;
    visitor.load_snapshot(std::as_bytes(std::span(data.snapshot)));
    start_segment = data.replay_segment;
    start_offset = data.replay_offset;
    cursor.expected_seq = data.covered_seq + 1;
    report.last_seq = data.covered_seq;
    if (!segments_.contains(start_segment) && !ids.empty() && ids.back() > start_segment) {
      report.problems.push_back(
          fmt::format("STORAGE_CORRUPT: segment {} where replay starts is missing from {}",
                      segment_file_name(start_segment), journal_dir().string()));
    }
  }
  for (uint64_t id : ids) {
    if (id < start_segment) continue;
    auto size = fs_.open(segment_path(id), OpenMode::kReadOnly);
    if (size) {
      auto bytes = (*size)->size();
      if (bytes) cursor.bytes_total += *bytes;
    }
  }
  for (uint64_t id : ids) {
    if (id < start_segment) continue;
    const bool is_last = id == ids.back();
    auto status = replay_segment(id, id == start_segment ? start_offset : kSegmentHeaderBytes, is_last,
                                 cursor.expected_seq, visitor, report);
    if (!status) return status;
    ++report.segments_replayed;
    log_progress(cursor);
  }
  next_seq_ = cursor.expected_seq.value_or(report.last_seq + 1);
  if (next_seq_ == 0) next_seq_ = 1;
  const uint64_t tail = ids.empty() ? 1 : ids.back() + 1;
  return open_tail_segment(tail, next_seq_);
}

Status Journal::replay_segment(uint64_t segment_id, uint64_t start_offset, bool is_last,
                               std::optional<uint64_t>& expected_seq, RecoveryVisitor& visitor,
                               RecoveryReport& report) {
  const fs::path path = segment_path(segment_id);
  auto file = fs_.open(path, OpenMode::kReadWrite);
  if (!file) return std::move(file).error();
  auto contents = read_whole(**file);
  if (!contents) return std::move(contents).error();
  const std::string buffer = std::move(*contents);
  const auto bytes = std::as_bytes(std::span(buffer));

  const auto header = decode_segment_header(bytes);
  if (!header || header->segment_id != segment_id) {
    if (is_last) return drop_unconfirmed_tail_segment(segment_id, "segment header never written", report);
    report_corrupt(report, path, {segment_id, 0, buffer.size(), "segment header is damaged"});
    return ok_status();
  }
  if (start_offset == kSegmentHeaderBytes && expected_seq && header->first_seq != *expected_seq) {
    if (is_last && header->first_seq > *expected_seq) {
      // Records before this segment were lost unsynced, so none in it was ever confirmed.
      return drop_unconfirmed_tail_segment(segment_id, "records before it were never synced", report);
    }
    report.problems.push_back(
        fmt::format("STORAGE_CORRUPT: records {}..{} are missing before {} (a damaged or missing segment)",
                    *expected_seq, header->first_seq - 1, path.string()));
    expected_seq = header->first_seq;
  }
  const uint32_t generation = generation_of(segment_id);
  const auto max_payload = static_cast<uint32_t>(options_.segment_bytes);
  std::vector<ReplayedRecord> group;
  uint64_t offset = start_offset;
  while (offset < buffer.size()) {
    const auto decoded = decode_record(bytes.subspan(offset), generation, max_payload);
    const bool clean_end =
        decoded.status == DecodeStatus::kZero || decoded.status == DecodeStatus::kBadGeneration ||
        (decoded.status == DecodeStatus::kTruncated && offset + kRecordHeaderBytes > buffer.size() &&
         std::all_of(bytes.begin() + offset, bytes.end(), [](std::byte b) { return b == std::byte{0}; }));
    if (clean_end) break;
    const bool in_order =
        decoded.status == DecodeStatus::kOk && (!expected_seq || decoded.header.seq == *expected_seq);
    if (!in_order) {
      group.clear();
      const uint64_t min_seq = expected_seq ? *expected_seq - 1 : 0;
      auto resume = find_next_record(bytes, offset, generation, min_seq, max_payload);
      const std::string reason =
          decoded.status == DecodeStatus::kOk
              ? fmt::format("sequence {} where {} was expected", decoded.header.seq, *expected_seq)
              : decode_status_name(decoded.status);
      if (!resume && is_last) return truncate_torn_tail(**file, segment_id, offset, buffer.size(), report);
      const uint64_t end = resume.value_or(buffer.size());
      report_corrupt(report, path, {segment_id, offset, end, reason});
      if (!resume) break;
      offset = *resume;
      expected_seq = decode_record(bytes.subspan(offset), generation, max_payload).header.seq;
      continue;
    }
    group.push_back(ReplayedRecord{
        decoded.header.type,
        decoded.header.flags,
        decoded.header.seq,
        {segment_id, static_cast<uint32_t>(offset), static_cast<uint32_t>(decoded.total_bytes)},
        decoded.payload});
    expected_seq = decoded.header.seq + 1;
    report.last_seq = decoded.header.seq;
    offset += decoded.total_bytes;
    if ((decoded.header.flags & kRecordGroupContinues) == 0) {
      visitor.apply_group(group);
      report.records_replayed += group.size();
      group.clear();
    }
  }
  return ok_status();
}

Status Journal::truncate_torn_tail(File& file, uint64_t segment_id, uint64_t offset, uint64_t file_bytes,
                                   RecoveryReport& report) {
  report.torn_tail = CorruptRange{segment_id, offset, file_bytes, "torn tail"};
  log::event(log::Level::kWarn, "storage.torn_tail",
             {log::kv("segment", segment_file_name(segment_id)), log::kv("offset", offset),
              log::kv("dropped_bytes", file_bytes - offset)});
  auto status = file.truncate(offset);
  if (!status) return status;
  return file.sync();
}

Status Journal::drop_unconfirmed_tail_segment(uint64_t segment_id, std::string_view reason,
                                              RecoveryReport& report) {
  // The newest segment holds nothing that was ever confirmed: drop the whole file, so that a
  // later recovery does not mistake it for damage in the middle.
  report.torn_tail = CorruptRange{segment_id, 0, 0, std::string(reason)};
  log::event(log::Level::kWarn, "storage.torn_tail",
             {log::kv("segment", segment_file_name(segment_id)), log::kv("offset", 0),
              log::kv("dropped_bytes", "all"), log::kv("reason", reason)});
  auto status = fs_.remove(segment_path(segment_id));
  if (!status) return status;
  segments_.erase(segment_id);
  return fs_.sync_directory(journal_dir());
}

Status Journal::open_tail_segment(uint64_t segment_id, uint64_t first_seq) {
  tail_segment_ = segment_id;
  tail_offset_ = kSegmentHeaderBytes;
  auto status = create_segment_file(segment_id, first_seq);
  if (!status) return status;
  status = sync_segments();
  if (!status) return status;
  durable_end_ = RecordEnd{segment_id, kSegmentHeaderBytes, first_seq - 1};
  written_end_ = durable_end_;
  log::event(log::Level::kInfo, "storage.recovered",
             {log::kv("next_seq", first_seq), log::kv("segments", segments_.size())});
  return ok_status();
}

}  // namespace ballast::storage

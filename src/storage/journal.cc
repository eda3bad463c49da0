#include "storage/journal.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "storage/io_error.h"
#include "storage/record_codec.h"
#include "storage/segment_header.h"
#include "util/check.h"
#include "util/log.h"

namespace ballast::storage {

namespace fs = std::filesystem;

Journal::Journal(const JournalOptions& options, DataDirLock lock)
    : options_(options),
      fs_(*options.file_system),
      lock_(std::move(lock)),
      reserve_(*options.file_system, options.data_dir / "journal" / "reserve", options.reserve_bytes) {}

bool Journal::reserve_in_use() const {
  return reserve_.in_use();
}

Status Journal::restore_reserve() {
  const bool was_in_use = reserve_.in_use();
  auto status = reserve_.restore();
  if (status && was_in_use) {
    log::event(log::Level::kInfo, "storage.reserve_restored", {log::kv("reserve_bytes", reserve_.bytes())});
  }
  return status;
}

Journal::~Journal() {
  stop();
}

fs::path Journal::journal_dir() const {
  return options_.data_dir / "journal";
}

fs::path Journal::segment_path(uint64_t segment_id) const {
  return journal_dir() / segment_file_name(segment_id);
}

uint64_t Journal::max_group_bytes() const {
  return options_.segment_bytes - kSegmentHeaderBytes;
}

void Journal::start() {
  BALLAST_CHECK(!writer_.joinable(), "journal started twice");
  writer_ = std::thread([this] { writer_loop(); });
}

void Journal::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::optional<Error> Journal::sticky_error() const {
  std::lock_guard lock(mu_);
  return sticky_error_;
}

std::optional<Error> Journal::self_check_error() const {
  std::lock_guard lock(mu_);
  return self_check_error_;
}

Status Journal::probe_directory(const fs::path& directory) {
  const fs::path probe = directory / ".self-check";
  auto file = fs_.open(probe, OpenMode::kCreateTruncate);
  if (!file) return std::move(file).error();
  static constexpr std::array<std::byte, 512> kProbeBytes{};
  Status written = (*file)->write_at(0, kProbeBytes);
  if (written) written = (*file)->sync();
  file->reset();
  Status removed = fs_.remove(probe);
  if (!written) return written;
  return removed;
}

Status Journal::self_check() {
  // The data directory takes the superblock and checkpoints; the journal directory segments.
  for (const fs::path& directory : {options_.data_dir, journal_dir()}) {
    if (auto status = probe_directory(directory); !status) return status;
  }
  if (!write_file_) return ok_status();
  auto segment = fs_.open(segment_path(write_segment_), OpenMode::kReadWrite);
  if (!segment) return std::move(segment).error();
  return ok_status();
}

void Journal::run_self_check() {
  Status status = self_check();
  if (status) repair_if_due();
  std::optional<Error> failure;
  if (!status) failure = std::move(status).error().with_context("storage self-check");
  bool was_failing = false;
  bool sticky = false;
  {
    std::lock_guard lock(mu_);
    was_failing = self_check_error_.has_value();
    sticky = sticky_error_.has_value();
    const bool same = was_failing && failure && self_check_error_->describe() == failure->describe();
    self_check_error_ = failure;
    if (same) return;
  }
  if (failure) {
    log::event(log::Level::kError, "storage.self_check_failed",
               {log::kv("code", failure->code_name()), log::kv("message", failure->message()),
                log::kv("fix", failure->fix()),
                log::kv("effect",
                        "new messages and queues are refused; acks and deletes go on; segments "
                        "emptied meanwhile are not reclaimed, so disk use grows until it is fixed")});
  } else if (was_failing) {
    log::event(sticky ? log::Level::kWarn : log::Level::kInfo, "storage.self_check_recovered",
               {log::kv("message",
                        sticky ? "the data and journal directories and the current segment are writable "
                                 "again, but an earlier journal write or fsync failed: writes stay refused "
                                 "until the journal is repaired (storage.write_recovered)"
                               : "the data and journal directories and the current segment are writable "
                                 "again; publishing resumes")});
  }
}

void Journal::repair_if_due() {
  if (options_.sync_policy != SyncPolicy::kAlways) return;  // confirmed writes may be lost: restart
  {
    std::lock_guard lock(mu_);
    const bool queued = !pending_.chunks.empty() || !pending_.commits.empty() || pending_.checkpoint;
    if (!sticky_error_ || repaired_ || queued) return;
  }
  Status status = repair();
  if (status) {
    last_repair_failure_.reset();
    return;
  }
  const std::string described = status.error().describe();
  if (last_repair_failure_ == described) return;
  last_repair_failure_ = described;
  log::event(log::Level::kWarn, "storage.repair_failed",
             {log::kv("code", status.error().code_name()), log::kv("message", status.error().message()),
              log::kv("fix", status.error().fix())});
}

Status Journal::repair() {
  uint64_t fresh_segment = 0;
  {
    std::lock_guard lock(mu_);  // tail_segment_ does not move while appends are refused
    // A failed attempt's segment id is used again (its file is removed first): it never held
    // a confirmed record.
    fresh_segment = std::max(std::max(tail_segment_, write_segment_) + 1, repair_segment_);
  }
  repair_segment_ = fresh_segment;
  write_file_.reset();
  sealed_unsynced_.clear();
  unsynced_segments_.clear();
  // The bytes of failed commits go, even those a successful fsync of their segment covered.
  auto durable = fs_.open(segment_path(durable_end_.segment_id), OpenMode::kReadWrite);
  if (!durable) return std::move(durable).error();
  Status status = (*durable)->truncate(durable_end_.offset);
  if (status) status = (*durable)->allocate(options_.segment_bytes);
  if (status) status = (*durable)->sync();
  if (!status) return status;
  // Newer segments hold only failed commits (or were never finished).
  bool removed = false;
  for (uint64_t segment_id = durable_end_.segment_id + 1; segment_id <= fresh_segment; ++segment_id) {
    auto present = fs_.exists(segment_path(segment_id));
    if (!present) return std::move(present).error();
    if (*present) status = fs_.remove(segment_path(segment_id));
    if (!status) return status;
    removed = removed || *present;
    std::lock_guard lock(mu_);
    segments_.erase(segment_id);
    readers_.erase(segment_id);
  }
  if (removed) status = fs_.sync_directory(journal_dir());
  if (status) status = create_segment_file(fresh_segment, durable_end_.seq + 1);
  if (status) status = sync_segments();
  if (!status) return status;
  durable_end_ = RecordEnd{fresh_segment, kSegmentHeaderBytes, durable_end_.seq};
  written_end_ = durable_end_;
  std::lock_guard lock(mu_);
  repaired_ = ResumePoint{fresh_segment, durable_end_.seq + 1};
  return ok_status();
}

bool Journal::awaiting_resume() const {
  std::lock_guard lock(mu_);
  return repaired_.has_value();
}

bool Journal::resume_after_repair() {
  std::lock_guard lock(mu_);
  const bool queued = !pending_.chunks.empty() || !pending_.commits.empty() || pending_.checkpoint;
  if (!repaired_ || queued) return false;
  const uint64_t abandoned_records = next_seq_ - repaired_->next_seq;
  next_seq_ = repaired_->next_seq;
  tail_segment_ = repaired_->segment_id;
  tail_offset_ = kSegmentHeaderBytes;
  const Error cause = *sticky_error_;
  sticky_error_.reset();
  repaired_.reset();
  log::event(log::Level::kInfo, "storage.write_recovered",
             {log::kv("failed_code", cause.code_name()), log::kv("segment", segment_file_name(tail_segment_)),
              log::kv("next_seq", next_seq_), log::kv("abandoned_records", abandoned_records),
              log::kv("message",
                      "the journal cut the failed commits off its last segment and writes to a fresh one; "
                      "publishing resumes")});
  return true;
}

JournalStats Journal::stats() const {
  std::lock_guard lock(mu_);
  JournalStats stats = stats_;
  stats.segments = segments_.size();
  stats.free_segments = free_files_.size();
  stats.bytes_on_disk = (segments_.size() + free_files_.size()) * options_.segment_bytes;
  return stats;
}

Result<std::vector<AppendedRecord>> Journal::append(std::vector<RecordToAppend> group, CommitCallback done) {
  BALLAST_CHECK(!group.empty(), "append of an empty group");
  uint64_t group_bytes = 0;
  for (const auto& record : group) group_bytes += encoded_record_bytes(record.payload.size());
  if (group_bytes > max_group_bytes()) {
    return Error(ErrorCode::kMessageTooLarge,
                 fmt::format("a commit of {} records needs {} bytes, more than one journal "
                             "segment holds ({} bytes, storage.segment_size = {})",
                             group.size(), group_bytes, max_group_bytes(), options_.segment_bytes),
                 "send fewer or smaller messages per request, or raise storage.segment_size");
  }
  std::lock_guard lock(mu_);
  if (sticky_error_) return *sticky_error_;
  const bool roll = tail_offset_ + group_bytes > options_.segment_bytes;
  if (roll) {
    ++tail_segment_;
    tail_offset_ = kSegmentHeaderBytes;
  }
  Chunk* chunk = nullptr;
  if (!roll && !pending_.chunks.empty()) {
    Chunk& last = pending_.chunks.back();
    if (last.segment_id == tail_segment_ && last.offset + last.bytes.size() == tail_offset_) {
      chunk = &last;
    }
  }
  if (chunk == nullptr) {
    chunk = &pending_.chunks.emplace_back(Chunk{tail_segment_, tail_offset_, next_seq_, roll, std::string()});
    // Room for the groups that follow until the writer takes the batch: growing by doubling
    // would copy every record again.
    chunk->bytes.reserve(std::max<uint64_t>(group_bytes, kChunkReserveBytes));
  }
  std::vector<AppendedRecord> appended;
  appended.reserve(group.size());
  for (size_t i = 0; i < group.size(); ++i) {
    const RecordToAppend& record = group[i];
    uint16_t flags = record.ignorable ? kRecordIgnorable : 0;
    if (i + 1 < group.size()) flags |= kRecordGroupContinues;
    const uint64_t seq = next_seq_++;
    const auto bytes = static_cast<uint32_t>(encoded_record_bytes(record.payload.size()));
    encode_record(chunk->bytes, record.type, flags, generation_of(tail_segment_), seq,
                  std::as_bytes(std::span(record.payload)));
    appended.push_back(AppendedRecord{seq, {tail_segment_, static_cast<uint32_t>(tail_offset_), bytes}});
    tail_offset_ += bytes;
  }
  pending_.commits.push_back(Commit{next_seq_ - 1, std::move(done)});
  pending_.records += group.size();
  stats_.records_appended += group.size();
  wake_.notify_one();
  return appended;
}

void Journal::checkpoint(std::string snapshot, std::set<uint64_t> live_segments, CommitCallback written) {
  std::lock_guard lock(mu_);
  CheckpointData data{next_seq_ - 1, tail_segment_, tail_offset_, std::move(snapshot)};
  std::vector<CommitCallback> callbacks;
  if (pending_.checkpoint) callbacks = std::move(pending_.checkpoint->written);  // superseded
  if (written) callbacks.push_back(std::move(written));
  pending_.checkpoint = PendingCheckpoint{std::move(data), std::move(live_segments), std::move(callbacks)};
  wake_.notify_one();
}

std::shared_ptr<File> Journal::reader_for(uint64_t segment_id) {
  std::lock_guard lock(mu_);
  auto found = readers_.find(segment_id);
  if (found != readers_.end()) return found->second;
  auto file = fs_.open(segment_path(segment_id), OpenMode::kReadOnly);
  if (!file) return nullptr;
  std::shared_ptr<File> shared = std::move(*file);
  readers_[segment_id] = shared;
  return shared;
}

Result<std::string> Journal::read(const RecordLocation& where) {
  std::shared_ptr<File> file = reader_for(where.segment_id);
  if (!file) {
    auto retry = fs_.open(segment_path(where.segment_id), OpenMode::kReadOnly);
    if (!retry) return std::move(retry).error();
    file = std::move(*retry);
  }
  std::string bytes(where.bytes, '\0');
  auto read = file->read_at(where.offset, std::as_writable_bytes(std::span(bytes)));
  if (!read) return std::move(read).error();
  const auto decoded =
      decode_record(std::as_bytes(std::span(bytes.data(), *read)), generation_of(where.segment_id),
                    static_cast<uint32_t>(options_.segment_bytes));
  if (decoded.status != DecodeStatus::kOk || decoded.total_bytes != where.bytes) {
    return Error(ErrorCode::kStorageCorrupt,
                 fmt::format("record at {} offset {} ({} bytes) cannot be read back: {}",
                             segment_path(where.segment_id).string(), where.offset, where.bytes,
                             decode_status_name(decoded.status)),
                 "run 'ballast doctor'; the message is quarantined and the rest of the queue "
                 "keeps being served");
  }
  return std::string(reinterpret_cast<const char*>(decoded.payload.data()), decoded.payload.size());
}

void Journal::writer_loop() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.sync_interval_ms);
  const auto commit_window = std::chrono::microseconds(options_.commit_window_us);
  const auto self_check_interval = std::chrono::milliseconds(options_.self_check_interval_ms);
  auto next_self_check = Clock::now() + self_check_interval;
  auto next_interval_sync = Clock::now() + interval;
  auto last_batch_start = Clock::now();
  size_t last_batch_records = 0;
  bool unsynced = false;
  std::unique_lock lock(mu_);
  while (true) {
    const auto has_work = [&] {
      return !pending_.chunks.empty() || !pending_.commits.empty() || pending_.checkpoint || stopping_;
    };
    if (options_.self_check_interval_ms > 0) {
      wake_.wait_until(lock, unsynced ? std::min(next_interval_sync, next_self_check) : next_self_check,
                       has_work);
      if (Clock::now() >= next_self_check && !stopping_) {
        lock.unlock();
        run_self_check();
        lock.lock();
        next_self_check = Clock::now() + self_check_interval;
      }
    } else if (unsynced) {
      wake_.wait_until(lock, next_interval_sync, has_work);
    } else {
      wake_.wait(lock, has_work);
    }
    // Under load, gather until the window since the previous batch has passed. A sleep, not a
    // wait on wake_: every append notifies, and waking per append is the cost being saved.
    const auto gather_until = last_batch_start + commit_window;
    if (last_batch_records >= kBusyBatchRecords && !stopping_ && Clock::now() < gather_until) {
      lock.unlock();
      std::this_thread::sleep_until(gather_until);
      lock.lock();
    }
    last_batch_start = Clock::now();
    last_batch_records = pending_.records;
    const bool stopping = stopping_;
    Batch batch = std::move(pending_);
    pending_ = Batch{};
    const bool failed = sticky_error_.has_value();
    lock.unlock();
    if (failed) {
      const Status refused = *sticky_error();
      if (batch.checkpoint) {
        for (auto& callback : batch.checkpoint->written) callback(refused);
      }
      finish_batch(batch, refused);
    } else {
      const bool sync_due = options_.sync_policy == SyncPolicy::kAlways || stopping || batch.checkpoint ||
                            Clock::now() >= next_interval_sync;
      const std::optional<RecordEnd> batch_end = end_of(batch);
      Status status = write_batch(batch);
      if (status && batch_end) written_end_ = *batch_end;
      unsynced = status.ok() && !batch.chunks.empty() ? true : unsynced;
      if (status && sync_due && unsynced) {
        status = sync_segments();
        if (status) durable_end_ = written_end_;
        unsynced = false;
        next_interval_sync = Clock::now() + interval;
      }
      // The checkpoint goes first so that a caller who waits on a later commit sees it done.
      if (batch.checkpoint) {
        Status written = status ? apply_checkpoint(*batch.checkpoint) : status;
        for (auto& callback : batch.checkpoint->written) callback(written);
      }
      finish_batch(batch, status);
    }
    lock.lock();
    if (stopping && pending_.chunks.empty() && pending_.commits.empty() && !pending_.checkpoint) break;
  }
}

std::optional<Journal::RecordEnd> Journal::end_of(const Batch& batch) {
  if (batch.chunks.empty() || batch.commits.empty()) return std::nullopt;
  const Chunk& last = batch.chunks.back();
  return RecordEnd{last.segment_id, last.offset + last.bytes.size(), batch.commits.back().last_seq};
}

Status Journal::write_batch(Batch& batch) {
  for (const Chunk& chunk : batch.chunks) {
    auto status = write_chunk(chunk);
    if (!status) return status;
  }
  const bool early =
      options_.sync_policy == SyncPolicy::kInterval || options_.defect == JournalDefect::kConfirmBeforeFsync;
  if (early) finish_batch(batch, ok_status());
  return ok_status();
}

Status Journal::write_chunk(const Chunk& chunk) {
  if (chunk.starts_segment) {
    auto status = create_segment_file(chunk.segment_id, chunk.first_seq);
    if (!status) return status;
  }
  BALLAST_CHECK(chunk.segment_id == write_segment_, "chunk for segment {} while writing {}", chunk.segment_id,
                write_segment_);
  auto status = write_file_->write_at(chunk.offset, std::as_bytes(std::span(chunk.bytes)));
  if (!status) return status;
  unsynced_segments_.insert(chunk.segment_id);
  return ok_status();
}

Result<std::unique_ptr<File>> Journal::obtain_segment_file(const fs::path& path, bool& recycled) {
  std::optional<fs::path> free_file;
  {
    std::lock_guard lock(mu_);
    if (!free_files_.empty()) {
      free_file = free_files_.back();
      free_files_.pop_back();
    }
  }
  recycled = free_file.has_value();
  if (free_file) {
    auto status = fs_.rename(*free_file, path);
    if (!status) return std::move(status).error();
    return fs_.open(path, OpenMode::kReadWrite);
  }
  auto file = fs_.open(path, OpenMode::kCreateExclusive);
  if (!file) return file;
  auto status = (*file)->allocate(options_.segment_bytes);
  if (status) return file;
  if (status.error().code() != ErrorCode::kStorageFull || !reserve_.release())
    return std::move(status).error();
  // The disk is full: give up the reserve so that acks and deletes can go on.
  log::event(
      log::Level::kError, "storage.reserve_in_use",
      {log::kv("code", "STORAGE_FULL"), log::kv("message", status.error().message()),
       log::kv("reserve_bytes", reserve_.bytes()),
       log::kv("fix", "free space on that file system; publishing resumes once the reserve is restored")});
  status = (*file)->allocate(options_.segment_bytes);
  if (!status) return std::move(status).error();
  return file;
}

Status Journal::create_segment_file(uint64_t segment_id, uint64_t first_seq) {
  const fs::path path = segment_path(segment_id);
  bool recycled = false;
  auto file = obtain_segment_file(path, recycled);
  if (!file) return std::move(file).error();
  const std::string header = encode_segment_header({segment_id, generation_of(segment_id), first_seq});
  auto status = (*file)->write_at(0, std::as_bytes(std::span(header)));
  if (!status) return status;
  if (options_.defect != JournalDefect::kSkipDirectoryFsync) {
    status = fs_.sync_directory(journal_dir());
    if (!status) return status;
  }
  if (write_file_) sealed_unsynced_[write_segment_] = std::move(write_file_);
  write_file_ = std::move(*file);
  write_segment_ = segment_id;
  unsynced_segments_.insert(segment_id);
  {
    std::lock_guard lock(mu_);
    segments_.insert(segment_id);
  }
  log::event(log::Level::kInfo, "storage.segment_opened",
             {log::kv("segment", segment_file_name(segment_id)), log::kv("first_seq", first_seq),
              log::kv("recycled", recycled)});
  return ok_status();
}

Status Journal::sync_segments() {
  for (uint64_t segment_id : unsynced_segments_) {
    File* file = segment_id == write_segment_ ? write_file_.get() : sealed_unsynced_[segment_id].get();
    BALLAST_CHECK(file != nullptr, "no open file for unsynced segment {}", segment_id);
    auto status = file->sync();
    if (!status && options_.defect == JournalDefect::kRetryFailedFsync) status = file->sync();
    if (!status) return status;
    {
      std::lock_guard lock(mu_);
      ++stats_.fsyncs;
    }
  }
  unsynced_segments_.clear();
  sealed_unsynced_.clear();
  return ok_status();
}

void Journal::finish_batch(Batch& batch, const Status& status) {
  if (!status) fail_sticky(status.error());
  uint64_t records = 0;
  for (Commit& commit : batch.commits) {
    commit.done(status);
    ++records;
  }
  if (status) {
    std::lock_guard lock(mu_);
    stats_.groups_committed += records;
  }
  batch.commits.clear();
}

void Journal::fail_sticky(const Error& error) {
  std::lock_guard lock(mu_);
  if (sticky_error_) return;
  sticky_error_ = error;
  log::event(
      log::Level::kError, "storage.write_failed",
      {log::kv("code", error.code_name()), log::kv("message", error.message()), log::kv("fix", error.fix())});
}

Status Journal::apply_checkpoint(PendingCheckpoint& pending) {
  auto status = write_checkpoint(fs_, options_.data_dir, pending.data);
  if (!status) {
    log::event(log::Level::kWarn, "storage.checkpoint_failed",
               {log::kv("code", status.error().code_name()), log::kv("message", status.error().message()),
                log::kv("fix", status.error().fix())});
    return status;
  }
  std::vector<uint64_t> reclaimable;
  {
    std::lock_guard lock(mu_);
    for (uint64_t segment_id : segments_) {
      if (segment_id >= pending.data.replay_segment) break;
      if (!pending.live_segments.contains(segment_id)) reclaimable.push_back(segment_id);
    }
  }
  for (uint64_t segment_id : reclaimable) {
    status = reclaim_segment(segment_id);
    if (!status) break;
  }
  if (!reclaimable.empty() && status) status = fs_.sync_directory(journal_dir());
  if (!reclaimable.empty() && status) status = fs_.sync_directory(journal_dir() / "free");
  if (!status) {
    log::event(log::Level::kWarn, "storage.reclaim_failed",
               {log::kv("code", status.error().code_name()), log::kv("message", status.error().message()),
                log::kv("fix", status.error().fix())});
  }
  return status;
}

Status Journal::reclaim_segment(uint64_t segment_id) {
  bool keep_for_recycling = false;
  {
    std::lock_guard lock(mu_);
    readers_.erase(segment_id);
    keep_for_recycling = free_files_.size() < options_.max_free_segments;
  }
  const fs::path from = segment_path(segment_id);
  const fs::path to = journal_dir() / "free" / segment_file_name(segment_id);
  auto status = keep_for_recycling ? fs_.rename(from, to) : fs_.remove(from);
  if (!status) return status;
  std::lock_guard lock(mu_);
  segments_.erase(segment_id);
  if (keep_for_recycling) free_files_.push_back(to);
  log::event(log::Level::kInfo, "storage.segment_reclaimed",
             {log::kv("segment", segment_file_name(segment_id)), log::kv("recycled", keep_for_recycling)});
  return ok_status();
}

}  // namespace ballast::storage

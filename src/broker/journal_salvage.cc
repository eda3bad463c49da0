#include "broker/journal_salvage.h"

#include <algorithm>
#include <mutex>
#include <system_error>

#include "broker/broker_core.h"
#include "storage/data_dir_lock.h"
#include "storage/io_error.h"
#include "storage/posix_file_system.h"
#include "storage/segment_header.h"
#include "util/bytes.h"
#include "util/clock.h"

namespace ballast::broker {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMinSegmentBytes = 1ull << 20;
constexpr size_t kMessagesPerGroup = 256;

class NoRecords final : public storage::RecoveryVisitor {
 public:
  void load_snapshot(std::span<const std::byte>) override {}
  void apply_group(std::span<const storage::ReplayedRecord>) override {}
};

// Appends what export_contents() hands it to a fresh journal: queue definitions and exchange
// tables one record each, messages in groups. Journal callbacks arrive on its writer thread.
class FreshJournalSink final : public ContentSink {
 public:
  // `scratch` is the recovered copy of the `original` data directory.
  FreshJournalSink(storage::Journal& journal, SalvageReport& report, const fs::path& scratch,
                   const fs::path& original)
      : journal_(journal), report_(report), scratch_(scratch.string()), original_(original.string()) {}

  void queue(const QueueCreatedRecord& definition) override {
    flush();
    append({{static_cast<uint16_t>(RecordType::kQueueCreated), false, encode(definition)}});
    names_[definition.queue_id] = {definition.vhost, definition.name};
    ++report_.queues;
  }

  void exchanges(const std::string& vhost, const std::string& encoded_table) override {
    flush();
    std::string payload;
    ByteWriter writer(payload);
    writer.str(vhost);
    writer.str(encoded_table);
    append({{static_cast<uint16_t>(RecordType::kExchangesChanged), true, std::move(payload)}});
    ++report_.exchange_tables;
  }

  void plugin_settings(const std::string& plugin, const std::string& settings) override {
    flush();
    append({{static_cast<uint16_t>(RecordType::kPluginSettings), true,
             encode_plugin_settings(plugin, settings)}});
  }

  void message(MessageAppendedRecord message) override {
    std::string payload = encode(message);
    if (group_bytes_ + payload.size() > journal_.max_group_bytes() / 2) flush();
    group_bytes_ += payload.size();
    group_.push_back({static_cast<uint16_t>(RecordType::kMessageAppended), false, std::move(payload)});
    ++report_.messages_copied;
    if (group_.size() >= kMessagesPerGroup) flush();
  }

  void unreadable(const QueueCreatedRecord& queue, const storage::RecordLocation& where,
                  const Error& error) override {
    std::string reason = error.describe();
    // The error names the scratch copy, which is removed: name the original file instead.
    for (size_t at = reason.find(scratch_); at != std::string::npos; at = reason.find(scratch_, at)) {
      reason.replace(at, scratch_.size(), original_);
      at += original_.size();
    }
    report_.skipped.push_back({{queue.vhost, queue.name}, where, std::move(reason)});
  }

  // Appends what is left, then waits until every record is durable.
  Status finish() {
    flush();
    journal_.stop();
    std::lock_guard lock(mu_);
    if (failure_) return *failure_;
    return ok_status();
  }

 private:
  void flush() {
    if (group_.empty()) return;
    append(std::move(group_));
    group_.clear();
    group_bytes_ = 0;
  }

  void append(std::vector<storage::RecordToAppend> group) {
    auto appended = journal_.append(std::move(group), [this](Status status) {
      if (!status) remember(std::move(status).error());
    });
    if (!appended) remember(std::move(appended).error());
  }

  void remember(Error error) {
    std::lock_guard lock(mu_);
    if (!failure_) failure_ = std::move(error);
  }

  storage::Journal& journal_;
  SalvageReport& report_;
  const std::string scratch_;
  const std::string original_;
  std::map<uint64_t, QueueName> names_;
  std::vector<storage::RecordToAppend> group_;
  size_t group_bytes_ = 0;
  std::mutex mu_;
  std::optional<Error> failure_;  // guarded by mu_
};

Status make_directories(const fs::path& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) return storage::io_error(error.value(), "create the directory", directory);
  return ok_status();
}

Status move(storage::FileSystem& file_system, const fs::path& from, const fs::path& to) {
  auto present = file_system.exists(from);
  if (!present) return std::move(present).error();
  if (!*present) return ok_status();
  return file_system.rename(from, to);
}

// The largest segment file in `journal_dir`: the segment size the original broker used.
Result<uint64_t> largest_segment_bytes(const fs::path& journal_dir) {
  uint64_t largest = kMinSegmentBytes;
  std::error_code error;
  for (fs::directory_iterator it(journal_dir, error), end; !error && it != end; it.increment(error)) {
    if (!storage::parse_segment_file_name(it->path().filename().string())) continue;
    const uint64_t bytes = it->file_size(error);
    if (error) break;
    largest = std::max(largest, bytes);
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    return storage::io_error(error.value(), "list", journal_dir);
  }
  return largest;
}

Status copy_one_file(const fs::path& from, const fs::path& to) {
  std::error_code error;
  if (!fs::exists(from, error)) return ok_status();
  fs::copy_file(from, to, error);
  if (error) return storage::io_error(error.value(), fmt::format("copy to {}", to.string()), from);
  return ok_status();
}

// Copies the superblock, the checkpoint and every segment file to `scratch`.
Status copy_originals(const fs::path& data_dir, const fs::path& scratch) {
  auto status = make_directories(scratch / "journal");
  for (const char* name : {"superblock", "checkpoint"}) {
    if (status) status = copy_one_file(data_dir / name, scratch / name);
  }
  if (!status) return status;
  std::error_code error;
  for (fs::directory_iterator it(data_dir / "journal", error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!storage::parse_segment_file_name(name)) continue;
    status = copy_one_file(it->path(), scratch / "journal" / name);
    if (!status) return status;
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    return storage::io_error(error.value(), "list", data_dir / "journal");
  }
  return ok_status();
}

Status check_output_is_empty(const fs::path& output_dir) {
  std::error_code error;
  if (!fs::exists(output_dir, error)) return ok_status();
  if (fs::is_directory(output_dir, error) && fs::is_empty(output_dir, error)) return ok_status();
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("the salvage output directory {} exists and is not empty", output_dir.string()),
               "give --output a new or empty directory; salvage never overwrites files");
}

Status check_quarantine_is_new(const fs::path& quarantine) {
  std::error_code error;
  if (!fs::exists(quarantine, error)) return ok_status();
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("the quarantine folder {} already exists", quarantine.string()),
               "run salvage again a second later: every run quarantines into a new folder");
}

// Recovers the scratch copy with a BrokerCore and writes everything it holds to `fresh_dir`.
Status copy_contents(const fs::path& original, const fs::path& scratch, const fs::path& fresh_dir,
                     uint64_t segment_bytes, SalvageReport& report) {
  storage::PosixFileSystem posix;
  BrokerOptions broker_options;
  broker_options.data_dir = scratch.string();
  broker_options.segment_bytes = segment_bytes;
  broker_options.reserve_bytes = 0;
  broker_options.read_cache_bytes = 0;
  broker_options.file_system = &posix;
  BrokerCore recovered(broker_options, nullptr, std::make_unique<SystemClock>());
  auto status = recovered.open();
  if (!status) return std::move(status).error().with_context("recovering the copy of the original journal");
  for (const DegradedPart& part : recovered.health().degraded)
    report.recovery_problems.push_back(part.message);

  storage::JournalOptions journal_options;
  journal_options.data_dir = fresh_dir;
  journal_options.segment_bytes = segment_bytes;
  journal_options.file_system = &posix;
  NoRecords none;
  storage::RecoveryReport fresh_report;
  auto fresh = storage::Journal::open(journal_options, none, fresh_report);
  if (!fresh) return std::move(fresh).error().with_context("creating the fresh journal");
  (*fresh)->start();
  FreshJournalSink sink(**fresh, report, scratch, original);
  recovered.export_contents(sink);
  status = sink.finish();
  if (!status) return std::move(status).error().with_context("writing the fresh journal");
  return ok_status();
}

// Moves the original files into `quarantine` and the fresh ones into `data_dir`.
Status swap_in(const fs::path& data_dir, const fs::path& fresh_dir, const fs::path& quarantine) {
  storage::PosixFileSystem posix;
  auto status = make_directories(quarantine);
  for (const char* name : {"superblock", "checkpoint", "journal"}) {
    if (status) status = move(posix, data_dir / name, quarantine / name);
  }
  if (status) status = posix.sync_directory(quarantine);
  if (status) status = posix.sync_directory(quarantine.parent_path());
  for (const char* name : {"superblock", "journal"}) {
    if (status) status = move(posix, fresh_dir / name, data_dir / name);
  }
  if (status) status = posix.sync_directory(data_dir);
  return status;
}

Status remove_work_folder(const fs::path& work) {
  std::error_code error;
  fs::remove_all(work, error);
  if (error) return storage::io_error(error.value(), "remove the salvage work folder", work);
  return ok_status();
}

}  // namespace

Result<SalvageReport> salvage_journal(const SalvageOptions& options) {
  auto lock = storage::DataDirLock::acquire(options.data_dir);
  if (!lock) return std::move(lock).error();
  SalvageReport report;
  storage::PosixFileSystem posix;
  DamagedQueueFinder finder;
  auto verified = storage::verify_journal(posix, options.data_dir, finder);
  if (!verified) return std::move(verified).error();
  report.damage = verified->damage;
  report.damage_queues = finder.affected_queues();
  if (options.output_dir) {
    auto status = check_output_is_empty(*options.output_dir);
    if (!status) return std::move(status).error();
  }
  uint64_t segment_bytes = options.segment_bytes;
  if (segment_bytes == 0) {
    auto largest = largest_segment_bytes(options.data_dir / "journal");
    if (!largest) return std::move(largest).error();
    segment_bytes = *largest;
  }
  if (!options.output_dir) {
    auto status = check_quarantine_is_new(options.data_dir / "quarantine" / options.stamp);
    if (!status) return std::move(status).error();
  }
  const fs::path work = options.output_dir ? *options.output_dir / ("salvage-work-" + options.stamp)
                                           : options.data_dir / ("salvage-work-" + options.stamp);
  const fs::path fresh_dir = options.output_dir ? *options.output_dir : work / "fresh";
  auto status = copy_originals(options.data_dir, work / "scratch");
  if (status) status = copy_contents(options.data_dir, work / "scratch", fresh_dir, segment_bytes, report);
  if (!status) return std::move(status).error().with_context(fmt::format("salvaging in {}", work.string()));
  report.journal_dir = fresh_dir;
  if (!options.output_dir) {
    const fs::path quarantine = options.data_dir / "quarantine" / options.stamp;
    status = swap_in(options.data_dir, fresh_dir, quarantine);
    if (!status) {
      return std::move(status).error().with_context(
          fmt::format("moving the originals to {} and the fresh journal from {} into {}", quarantine.string(),
                      fresh_dir.string(), options.data_dir.string()));
    }
    report.journal_dir = options.data_dir;
    report.quarantine_dir = quarantine;
  }
  status = remove_work_folder(work);
  if (!status) return std::move(status).error().with_context("the salvage itself succeeded");
  return report;
}

}  // namespace ballast::broker

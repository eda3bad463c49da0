#include "storage/fault_file_system.h"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "storage/fault_plan.h"
#include "storage/io_error.h"
#include "util/log.h"

namespace ballast::storage {

namespace fs = std::filesystem;

// One unsynced change to a file's contents, with what it replaced.
struct WriteRecord {
  uint64_t offset = 0;
  uint64_t size_before = 0;  // file size before the change
  std::string old_bytes;     // previous contents of [offset, min(offset+len, size_before))
  std::string new_bytes;     // what was written (empty for an allocation)
};

struct FaultFileSystem::FileState {
  fs::path path;
  std::vector<WriteRecord> unsynced;
};

struct FaultFileSystem::DirectoryOp {
  enum class Kind : uint8_t { kCreate, kRename, kRemove } kind;
  fs::path directory;
  fs::path path;       // kCreate: created; kRename: destination; kRemove: removed
  fs::path from;       // kRename: source
  fs::path backup;     // replaced or removed file kept under a hidden name; empty if none
  uint64_t order = 0;  // global order of directory changes, to undo newest first
};

namespace {

constexpr std::string_view kBackupPrefix = ".faultbak-";

Error crashed_error(const fs::path& path) {
  return io_error(EIO, "use (the simulated process has crashed)", path);
}

void restore_write(File& file, const WriteRecord& write) {
  file.write_at(write.offset, std::as_bytes(std::span(write.old_bytes)))
      .ignore("power-loss simulation is best-effort on the real disk");
  file.truncate(write.size_before).ignore("power-loss simulation is best-effort on the real disk");
}

}  // namespace

class FaultFile final : public File {
 public:
  FaultFile(FaultFileSystem& owner, std::unique_ptr<File> real,
            std::shared_ptr<FaultFileSystem::FileState> state)
      : owner_(owner), real_(std::move(real)), state_(std::move(state)) {}

  const fs::path& path() const override { return real_->path(); }

  Status write_at(uint64_t offset, std::span<const std::byte> data) override {
    std::lock_guard lock(owner_.mutex());
    uint64_t torn = 0;
    auto fault = owner_.before_call(FaultOp::kWrite, path(), &torn);
    const bool crash_now = fault && owner_.crashed();
    if (fault && !crash_now) return std::move(*fault);
    std::string torn_bytes;
    if (crash_now) torn_bytes = owner_.torn_write(data.first(std::min<uint64_t>(torn, data.size())), data);
    if (crash_now && torn_bytes.empty()) return std::move(*fault);
    const auto written = crash_now ? std::as_bytes(std::span(torn_bytes)) : data;
    WriteRecord record = capture(offset, written.size());
    record.new_bytes.assign(reinterpret_cast<const char*>(written.data()), written.size());
    auto status = real_->write_at(offset, written);
    if (!status) return status;
    state_->unsynced.push_back(std::move(record));
    if (crash_now) return std::move(*fault);
    return ok_status();
  }

  Result<size_t> read_at(uint64_t offset, std::span<std::byte> out) override {
    {
      std::lock_guard lock(owner_.mutex());
      if (owner_.crashed()) return crashed_error(path());
    }
    return real_->read_at(offset, out);
  }

  Status sync() override {
    std::lock_guard lock(owner_.mutex());
    if (auto fault = owner_.before_call(FaultOp::kSync, path(), nullptr)) {
      if (!owner_.crashed()) drop_unsynced();
      return std::move(*fault);
    }
    auto status = real_->sync();
    if (status) state_->unsynced.clear();
    return status;
  }

  Status allocate(uint64_t length) override {
    std::lock_guard lock(owner_.mutex());
    if (auto fault = owner_.before_call(FaultOp::kAllocate, path(), nullptr)) return std::move(*fault);
    WriteRecord record = capture(0, 0);
    auto status = real_->allocate(length);
    if (status) state_->unsynced.push_back(std::move(record));
    return status;
  }

  Status truncate(uint64_t length) override {
    std::lock_guard lock(owner_.mutex());
    if (auto fault = owner_.before_call(FaultOp::kTruncate, path(), nullptr)) return std::move(*fault);
    auto size = real_->size();
    const uint64_t size_before = size ? *size : 0;
    // Unsynced like a write: a power loss (or a failed sync) may bring the cut bytes back.
    WriteRecord record = capture(length, size_before > length ? size_before - length : 0);
    auto status = real_->truncate(length);
    if (status && size_before != length) state_->unsynced.push_back(std::move(record));
    return status;
  }

  Result<uint64_t> size() override { return real_->size(); }

 private:
  WriteRecord capture(uint64_t offset, uint64_t length) {
    WriteRecord record;
    record.offset = offset;
    auto size = real_->size();
    record.size_before = size ? *size : 0;
    if (offset < record.size_before) {
      const uint64_t overlap = std::min(length, record.size_before - offset);
      record.old_bytes.resize(overlap);
      auto read = real_->read_at(offset, std::as_writable_bytes(std::span(record.old_bytes)));
      record.old_bytes.resize(read ? *read : 0);
    }
    return record;
  }

  void drop_unsynced() {
    for (auto it = state_->unsynced.rbegin(); it != state_->unsynced.rend(); ++it) {
      restore_write(*real_, *it);
    }
    state_->unsynced.clear();
  }

  FaultFileSystem& owner_;
  std::unique_ptr<File> real_;
  std::shared_ptr<FaultFileSystem::FileState> state_;
};

FaultFileSystem::FaultFileSystem() = default;
FaultFileSystem::~FaultFileSystem() = default;

void FaultFileSystem::fail_call(FaultOp op, uint64_t occurrence, int error_number) {
  std::lock_guard lock(mu_);
  planned_failures_[{op, occurrence}] = error_number;
}

void FaultFileSystem::fail_next_call(FaultOp op, int error_number) {
  std::lock_guard lock(mu_);
  planned_failures_[{op, op_counts_[op] + 1}] = error_number;
}

void FaultFileSystem::crash_at_call(uint64_t call_number, uint64_t torn_bytes) {
  std::lock_guard lock(mu_);
  crash_call_ = call_number;
  crash_torn_bytes_ = torn_bytes;
  crash_torn_write_ = nullptr;
}

void FaultFileSystem::crash_at_call(uint64_t call_number, TornWrite torn) {
  std::lock_guard lock(mu_);
  crash_call_ = call_number;
  crash_torn_bytes_ = 0;
  crash_torn_write_ = std::move(torn);
}

std::string FaultFileSystem::torn_write(std::span<const std::byte> prefix,
                                        std::span<const std::byte> data) const {
  if (crash_torn_write_) return crash_torn_write_(data);
  return std::string(reinterpret_cast<const char*>(prefix.data()), prefix.size());
}

bool FaultFileSystem::crashed() const {
  return crashed_;
}

uint64_t FaultFileSystem::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::optional<Error> FaultFileSystem::before_call(FaultOp op, const fs::path& path, uint64_t* torn_bytes) {
  return before_call_locked(op, path, torn_bytes);
}

std::optional<Error> FaultFileSystem::before_call_locked(FaultOp op, const fs::path& path,
                                                         uint64_t* torn_bytes) {
  if (crashed_) return crashed_error(path);
  ++calls_;
  const uint64_t occurrence = ++op_counts_[op];
  if (crash_call_ && calls_ == *crash_call_) {
    crashed_ = true;
    if (torn_bytes != nullptr) *torn_bytes = crash_torn_bytes_;
    return crashed_error(path);
  }
  auto planned = planned_failures_.find({op, occurrence});
  if (planned != planned_failures_.end()) return io_error(planned->second, "perform the operation on", path);
  reload_plan_locked();
  return standing_fault_locked(op, path);
}

std::optional<Error> FaultFileSystem::standing_fault_locked(FaultOp op, const fs::path& path) const {
  const std::string name = path.filename().string();
  for (const FaultRule& rule : rules_) {
    if (rule.op == op && ::fnmatch(rule.name_glob.c_str(), name.c_str(), 0) == 0) {
      return io_error(rule.error_number, "perform the operation on", path);
    }
  }
  return std::nullopt;
}

void FaultFileSystem::set_rules(std::vector<FaultRule> rules) {
  std::lock_guard lock(mu_);
  rules_ = std::move(rules);
}

void FaultFileSystem::watch_plan_file(const fs::path& path) {
  std::lock_guard lock(mu_);
  plan_file_ = std::make_unique<FaultPlanFile>(path);
  next_plan_check_ = {};
  reload_plan_locked();
}

void FaultFileSystem::reload_plan_locked() {
  static constexpr auto kPlanCheckInterval = std::chrono::milliseconds(5);
  if (!plan_file_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_plan_check_) return;
  next_plan_check_ = now + kPlanCheckInterval;
  auto changed = plan_file_->reload_if_changed();
  if (!changed) return;
  if (!*changed) {
    rules_.clear();
    log::event(log::Level::kError, "fault_injection.plan_invalid",
               {log::kv("code", changed->error().code_name()), log::kv("message", changed->error().message()),
                log::kv("fix", changed->error().fix())});
    return;
  }
  rules_ = std::move(**changed);
  std::vector<std::string> described;
  for (const FaultRule& rule : rules_) described.push_back(describe_fault_rule(rule));
  log::event(log::Level::kWarn, "fault_injection.plan_loaded",
             {log::kv("plan", plan_file_->path().string()), log::kv("rules", rules_.size()),
              log::kv("faults", described.empty() ? "none" : fmt::format("{}", fmt::join(described, "; ")))});
}

Result<std::unique_ptr<File>> FaultFileSystem::open(const fs::path& path, OpenMode mode) {
  std::lock_guard lock(mu_);
  if (auto fault = before_call_locked(FaultOp::kOpen, path, nullptr)) return std::move(*fault);
  const bool creates = mode == OpenMode::kCreateExclusive || mode == OpenMode::kCreateTruncate;
  auto existed = real_.exists(path);
  auto real = real_.open(path, mode);
  if (!real) return std::move(real).error();
  auto& state = files_[path];
  if (!state) {
    state = std::make_shared<FileState>();
    state->path = path;
  }
  if (creates && existed && !*existed) {
    pending_directory_ops_[path.parent_path()].push_back(
        DirectoryOp{DirectoryOp::Kind::kCreate, path.parent_path(), path, {}, {}, ++op_order_});
  }
  return std::unique_ptr<File>(std::make_unique<FaultFile>(*this, std::move(*real), state));
}

Status FaultFileSystem::rename(const fs::path& from, const fs::path& to) {
  std::lock_guard lock(mu_);
  if (auto fault = before_call_locked(FaultOp::kRename, to, nullptr)) return std::move(*fault);
  fs::path backup;
  if (::access(to.c_str(), F_OK) == 0) {
    backup = to.parent_path() / fmt::format("{}{}", kBackupPrefix, ++backup_counter_);
    if (::link(to.c_str(), backup.c_str()) != 0) return io_error(errno, "keep a backup of", to);
    if (auto replaced = files_.extract(to)) {
      replaced.key() = backup;
      replaced.mapped()->path = backup;
      files_.insert(std::move(replaced));
    }
  }
  auto status = real_.rename(from, to);
  if (!status) return status;
  if (auto moved = files_.extract(from)) {
    moved.key() = to;
    moved.mapped()->path = to;
    files_.insert(std::move(moved));
  }
  pending_directory_ops_[to.parent_path()].push_back(
      DirectoryOp{DirectoryOp::Kind::kRename, to.parent_path(), to, from, backup, ++op_order_});
  return ok_status();
}

Status FaultFileSystem::remove(const fs::path& path) {
  std::lock_guard lock(mu_);
  if (auto fault = before_call_locked(FaultOp::kRemove, path, nullptr)) return std::move(*fault);
  const fs::path backup = path.parent_path() / fmt::format("{}{}", kBackupPrefix, ++backup_counter_);
  if (::rename(path.c_str(), backup.c_str()) != 0) return io_error(errno, "delete", path);
  if (auto moved = files_.extract(path)) {
    moved.key() = backup;
    moved.mapped()->path = backup;
    files_.insert(std::move(moved));
  }
  pending_directory_ops_[path.parent_path()].push_back(
      DirectoryOp{DirectoryOp::Kind::kRemove, path.parent_path(), path, {}, backup, ++op_order_});
  return ok_status();
}

Status FaultFileSystem::sync_directory(const fs::path& directory) {
  std::lock_guard lock(mu_);
  if (auto fault = before_call_locked(FaultOp::kSyncDirectory, directory, nullptr)) {
    return std::move(*fault);
  }
  auto status = real_.sync_directory(directory);
  if (!status) return status;
  for (const DirectoryOp& op : pending_directory_ops_[directory]) {
    if (op.backup.empty()) continue;
    ::unlink(op.backup.c_str());
    files_.erase(op.backup);
  }
  pending_directory_ops_.erase(directory);
  return ok_status();
}

Status FaultFileSystem::create_directory(const fs::path& directory) {
  std::lock_guard lock(mu_);
  if (auto fault = before_call_locked(FaultOp::kCreateDirectory, directory, nullptr)) {
    return std::move(*fault);
  }
  return real_.create_directory(directory);
}

Result<std::vector<std::string>> FaultFileSystem::list_directory(const fs::path& directory) {
  std::lock_guard lock(mu_);
  if (crashed_) return crashed_error(directory);
  auto names = real_.list_directory(directory);
  if (!names) return names;
  std::erase_if(*names, [](const std::string& name) { return name.starts_with(kBackupPrefix); });
  return names;
}

Result<bool> FaultFileSystem::exists(const fs::path& path) {
  std::lock_guard lock(mu_);
  if (crashed_) return crashed_error(path);
  return real_.exists(path);
}

void FaultFileSystem::simulate_power_loss(PowerLossModel model, uint64_t seed) {
  std::lock_guard lock(mu_);
  std::mt19937_64 random(seed);
  for (auto& [path, state] : files_) {
    if (state->unsynced.empty() || model == PowerLossModel::kProcessCrashOnly) continue;
    auto file = real_.open(path, OpenMode::kReadWrite);
    if (file) roll_back_file(**file, *state, model, random);
  }
  size_t directory_ops = 0;
  for (const auto& [directory, ops] : pending_directory_ops_) directory_ops += ops.size();
  size_t kept_directory_ops = 0;
  if (model == PowerLossModel::kProcessCrashOnly) kept_directory_ops = directory_ops;
  if (model == PowerLossModel::kIndependentPerFile) kept_directory_ops = random() % (directory_ops + 1);
  undo_directory_ops(kept_directory_ops);
  files_.clear();
  crashed_ = false;
  crash_call_.reset();
  crash_torn_write_ = nullptr;
  planned_failures_.clear();
}

void FaultFileSystem::roll_back_file(File& file, FileState& state, PowerLossModel model,
                                     std::mt19937_64& random) {
  enum class Fate : uint8_t { kLoseAll, kKeepAll, kKeepPrefixTearNext };
  Fate fate = Fate::kLoseAll;
  if (model == PowerLossModel::kKeepSeededPrefix) fate = Fate::kKeepPrefixTearNext;
  if (model == PowerLossModel::kIndependentPerFile) fate = static_cast<Fate>(random() % 3);
  const size_t count = state.unsynced.size();
  size_t kept = 0;
  if (fate == Fate::kKeepAll) kept = count;
  if (fate == Fate::kKeepPrefixTearNext) kept = random() % (count + 1);
  for (size_t i = count; i-- > kept;) restore_write(file, state.unsynced[i]);
  if (kept < count && fate == Fate::kKeepPrefixTearNext) {
    const WriteRecord& torn = state.unsynced[kept];
    const size_t torn_length = torn.new_bytes.empty() ? 0 : random() % torn.new_bytes.size();
    file.write_at(torn.offset, std::as_bytes(std::span(torn.new_bytes).first(torn_length)))
        .ignore("power-loss simulation is best-effort on the real disk");
  }
  state.unsynced.clear();
}

void FaultFileSystem::undo_directory_ops(size_t kept) {
  std::vector<DirectoryOp> all;
  for (auto& [directory, ops] : pending_directory_ops_) all.insert(all.end(), ops.begin(), ops.end());
  pending_directory_ops_.clear();
  std::sort(all.begin(), all.end(),
            [](const DirectoryOp& a, const DirectoryOp& b) { return a.order < b.order; });
  for (size_t i = 0; i < kept && i < all.size(); ++i) {
    if (!all[i].backup.empty()) ::unlink(all[i].backup.c_str());  // the change is durable
  }
  for (size_t i = all.size(); i-- > kept;) {
    const DirectoryOp& op = all[i];
    switch (op.kind) {
      case DirectoryOp::Kind::kCreate:
        ::unlink(op.path.c_str());
        break;
      case DirectoryOp::Kind::kRename:
        ::rename(op.path.c_str(), op.from.c_str());
        if (!op.backup.empty()) ::rename(op.backup.c_str(), op.path.c_str());
        break;
      case DirectoryOp::Kind::kRemove:
        ::rename(op.backup.c_str(), op.path.c_str());
        break;
    }
  }
}

}  // namespace ballast::storage

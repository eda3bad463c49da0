#include "storage/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "storage/fault_file_system.h"
#include "storage/posix_file_system.h"
#include "storage/segment_header.h"

namespace ballast::storage {
namespace {

namespace fs = std::filesystem;

struct Replayed {
  uint16_t type;
  uint64_t seq;
  std::string payload;
  RecordLocation location;
};

class CollectingVisitor : public RecoveryVisitor {
 public:
  void load_snapshot(std::span<const std::byte> snapshot) override {
    snapshot_.assign(reinterpret_cast<const char*>(snapshot.data()), snapshot.size());
  }
  void apply_group(std::span<const ReplayedRecord> group) override {
    groups_.emplace_back();
    for (const auto& record : group) {
      groups_.back().push_back(
          Replayed{record.type, record.seq,
                   std::string(reinterpret_cast<const char*>(record.payload.data()), record.payload.size()),
                   record.location});
    }
  }
  std::vector<std::string> payloads() const {
    std::vector<std::string> all;
    for (const auto& group : groups_)
      for (const auto& record : group) all.push_back(record.payload);
    return all;
  }
  std::string snapshot_;
  std::vector<std::vector<Replayed>> groups_;
};

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ballast-journal-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  JournalOptions options(FileSystem& file_system, uint64_t segment_bytes = 4096) {
    JournalOptions result;
    result.data_dir = dir_ / "data";
    result.segment_bytes = segment_bytes;
    result.file_system = &file_system;
    return result;
  }

  std::unique_ptr<Journal> open(FileSystem& file_system, CollectingVisitor& visitor, RecoveryReport& report,
                                uint64_t segment_bytes = 4096) {
    auto journal = Journal::open(options(file_system, segment_bytes), visitor, report);
    EXPECT_TRUE(journal.ok()) << (journal.ok() ? "" : journal.error().describe());
    if (!journal.ok()) return nullptr;
    (*journal)->start();
    return std::move(*journal);
  }

  // Options with a storage self-check every 10 ms (which is when a failed journal repairs).
  JournalOptions checked_options(FileSystem& file_system, uint64_t segment_bytes) {
    JournalOptions result = options(file_system, segment_bytes);
    result.self_check_interval_ms = 10;
    return result;
  }

  // Opens (recovers) without starting the writer; null after a test failure.
  static std::unique_ptr<Journal> open_unstarted(const JournalOptions& journal_options) {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = Journal::open(journal_options, visitor, report);
    EXPECT_TRUE(journal.ok()) << (journal.ok() ? "" : journal.error().describe());
    return journal.ok() ? std::move(*journal) : nullptr;
  }

  // Appends one record per payload as separate commits and waits until all are durable.
  static std::vector<AppendedRecord> append_all(Journal& journal, const std::vector<std::string>& payloads) {
    std::vector<AppendedRecord> appended;
    std::vector<std::future<bool>> done;
    for (const auto& payload : payloads) {
      auto promise = std::make_shared<std::promise<bool>>();
      done.push_back(promise->get_future());
      auto result = journal.append({RecordToAppend{4, false, payload}},
                                   [promise](Status status) { promise->set_value(status.ok()); });
      EXPECT_TRUE(result.ok());
      if (result.ok()) appended.push_back(result->front());
    }
    for (auto& future : done) EXPECT_TRUE(future.get());
    return appended;
  }

  static std::vector<std::string> numbered(int count, size_t bytes = 100) {
    std::vector<std::string> payloads;
    for (int i = 0; i < count; ++i) payloads.push_back(fmt::format("{:0{}}", i, bytes));
    return payloads;
  }

  fs::path dir_;
  PosixFileSystem posix_;
};

TEST_F(JournalTest, ReplaysEveryCommittedRecordInOrderAcrossRollOver) {
  const auto payloads = numbered(200);
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(posix_, visitor, report);
    append_all(*journal, payloads);
    EXPECT_GT(journal->stats().segments, 3u);
  }
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report);
  EXPECT_EQ(visitor.payloads(), payloads);
  EXPECT_FALSE(report.torn_tail.has_value());
  EXPECT_TRUE(report.corrupt.empty());
}

TEST_F(JournalTest, ReadsBackAPayloadByLocation) {
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report);
  const auto appended = append_all(*journal, {"first", "second"});
  auto payload = journal->read(appended[1].location);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, "second");
}

TEST_F(JournalTest, AtomicGroupIsAllOrNothingAfterATornWrite) {
  FaultFileSystem faults;
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(faults, visitor, report, 1 << 16);
    append_all(*journal, {"before"});
    // The next write (the group) is torn after 40 bytes and the process "dies".
    faults.crash_at_call(faults.calls() + 1, 40);
    auto result = journal->append({{4, false, "group-a"}, {4, false, "group-b"}}, [](Status) {});
    EXPECT_TRUE(result.ok());
    journal->stop();
  }
  faults.simulate_power_loss(PowerLossModel::kDropAllUnsynced, 1);
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report, 1 << 16);
  EXPECT_EQ(visitor.payloads(), std::vector<std::string>{"before"});
}

TEST_F(JournalTest, TornTailIsTruncatedAndReported) {
  FaultFileSystem faults;
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(faults, visitor, report, 1 << 16);
    append_all(*journal, {"one", "two"});
    faults.crash_at_call(faults.calls() + 1, 30);
    journal->append({{4, false, std::string(200, 'z')}}, [](Status) {}).ignore("crashes");
    journal->stop();
  }
  // The torn bytes reached the disk (no power loss): recovery must find and cut them.
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report, 1 << 16);
  EXPECT_EQ(visitor.payloads(), (std::vector<std::string>{"one", "two"}));
  ASSERT_TRUE(report.torn_tail.has_value());
  EXPECT_TRUE(report.corrupt.empty());
}

TEST_F(JournalTest, DamageInTheMiddleIsReportedAndSkippedNotFatal) {
  std::vector<AppendedRecord> appended;
  const auto payloads = numbered(30);
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(posix_, visitor, report, 1 << 16);
    appended = append_all(*journal, payloads);
  }
  // Flip a byte inside record 10's payload.
  const auto where = appended[10].location;
  auto file =
      posix_.open(dir_ / "data" / "journal" / segment_file_name(where.segment_id), OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  const std::byte junk{0x5A};
  ASSERT_TRUE((*file)->write_at(where.offset + 30, std::span(&junk, 1)).ok());
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report, 1 << 16);
  ASSERT_EQ(report.corrupt.size(), 1u);
  EXPECT_EQ(report.corrupt[0].first_offset, where.offset);
  auto expected = payloads;
  expected.erase(expected.begin() + 10);
  EXPECT_EQ(visitor.payloads(), expected);
  EXPECT_FALSE(report.problems.empty());
}

TEST_F(JournalTest, MissingSegmentIsReportedAsCorrupt) {
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(posix_, visitor, report);
    append_all(*journal, numbered(200));
  }
  ASSERT_TRUE(posix_.remove(dir_ / "data" / "journal" / segment_file_name(2)).ok());
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].find("missing"), std::string::npos) << report.problems[0];
  EXPECT_LT(visitor.payloads().size(), 200u);
  EXPECT_GT(visitor.payloads().size(), 100u);
}

TEST_F(JournalTest, FailedFsyncIsStickyAndNeverReportedAsSuccess) {
  FaultFileSystem faults;
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(faults, visitor, report, 1 << 16);
  append_all(*journal, {"ok"});
  faults.fail_next_call(FaultOp::kSync, EIO);
  std::promise<Status> failed;
  journal->append({{4, false, "lost"}}, [&](Status status) { failed.set_value(status); })
      .ignore("checked below");
  const Status status = failed.get_future().get();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorageIoError);
  auto later = journal->append({{4, false, "after"}}, [](Status) {});
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code(), ErrorCode::kStorageIoError);
}

TEST_F(JournalTest, SecondOpenOfTheSameDirectoryNamesTheLockHolder) {
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report);
  CollectingVisitor second_visitor;
  RecoveryReport second_report;
  auto second = Journal::open(options(posix_), second_visitor, second_report);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kDataDirLocked);
  EXPECT_NE(second.error().message().find(std::to_string(::getpid())), std::string::npos);
}

TEST_F(JournalTest, CheckpointBoundsReplayAndReclaimsDeadSegments) {
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(posix_, visitor, report);
    append_all(*journal, numbered(200));
    const uint64_t before = journal->stats().segments;
    journal->checkpoint("snapshot-bytes", {});
    append_all(*journal, {"after-checkpoint"});
    EXPECT_LT(journal->stats().segments, before);
    EXPECT_GT(journal->stats().free_segments, 0u);
  }
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(posix_, visitor, report);
  EXPECT_TRUE(report.had_checkpoint);
  EXPECT_EQ(visitor.snapshot_, "snapshot-bytes");
  EXPECT_EQ(visitor.payloads(), std::vector<std::string>{"after-checkpoint"});
  // Recycled files now serve new segments: their stale records must not come back.
  append_all(*journal, numbered(60));
  journal.reset();
  CollectingVisitor again;
  RecoveryReport again_report;
  auto reopened = open(posix_, again, again_report);
  EXPECT_EQ(again.payloads().size(), 61u);
  EXPECT_TRUE(again_report.corrupt.empty());
}

}  // namespace
}  // namespace ballast::storage

namespace ballast::storage {
namespace {

TEST_F(JournalTest, FullDiskGivesUpTheReserveSoCommitsGoOn) {
  FaultFileSystem faults;
  JournalOptions reserved = options(faults, 4096);
  reserved.reserve_bytes = 64 << 10;
  CollectingVisitor visitor;
  RecoveryReport report;
  auto opened = Journal::open(reserved, visitor, report);
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  auto& journal = *opened;
  journal->start();
  const fs::path reserve = dir_ / "data" / "journal" / "reserve";
  ASSERT_TRUE(fs::exists(reserve));
  EXPECT_FALSE(journal->reserve_in_use());
  faults.fail_next_call(FaultOp::kAllocate, ENOSPC);
  append_all(*journal, numbered(60));  // rolls over: the first new segment meets a full disk
  EXPECT_TRUE(journal->reserve_in_use());
  EXPECT_FALSE(fs::exists(reserve));
  EXPECT_FALSE(journal->sticky_error().has_value());
  ASSERT_TRUE(journal->restore_reserve().ok());
  EXPECT_FALSE(journal->reserve_in_use());
  EXPECT_TRUE(fs::exists(reserve));
}

TEST_F(JournalTest, FullDiskWithTheReserveSpentFailsWithStorageFull) {
  FaultFileSystem faults;
  CollectingVisitor visitor;
  RecoveryReport report;
  auto journal = open(faults, visitor, report);  // no reserve configured
  faults.fail_next_call(FaultOp::kAllocate, ENOSPC);
  std::optional<Status> failure;
  for (int i = 0; i < 100 && !failure; ++i) {
    std::promise<Status> done;
    auto appended =
        journal->append({{4, false, std::string(200, 'f')}}, [&](Status status) { done.set_value(status); });
    if (!appended.ok()) break;
    Status status = done.get_future().get();
    if (!status.ok()) failure = status;
  }
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->error().code(), ErrorCode::kStorageFull);
  EXPECT_NE(failure->error().message().find("bytes free"), std::string::npos) << failure->error().message();
}

// Polls `condition` every 5 ms for up to 5 s.
bool within_five_seconds(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

TEST_F(JournalTest, SelfCheckReportsAFaultWithinAnIntervalAndClearsWhenItPasses) {
  FaultFileSystem faults;
  JournalOptions checked = options(faults, 4096);
  checked.self_check_interval_ms = 20;
  CollectingVisitor visitor;
  RecoveryReport report;
  auto opened = Journal::open(checked, visitor, report);
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  auto& journal = *opened;
  journal->start();
  // The next open is the data directory's probe: it refuses new files.
  faults.fail_next_call(FaultOp::kOpen, EACCES);
  ASSERT_TRUE(within_five_seconds([&] { return journal->self_check_error().has_value(); }));
  const Error refused = *journal->self_check_error();
  EXPECT_EQ(refused.code(), ErrorCode::kStoragePermissionDenied);
  EXPECT_NE(refused.message().find("storage self-check"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find((dir_ / "data" / ".self-check").string()), std::string::npos)
      << refused.message();
  EXPECT_FALSE(journal->sticky_error().has_value());  // appends go on meanwhile
  append_all(*journal, numbered(3));
  ASSERT_TRUE(within_five_seconds([&] { return !journal->self_check_error().has_value(); }));
  EXPECT_FALSE(fs::exists(dir_ / "data" / ".self-check"));
  EXPECT_FALSE(fs::exists(dir_ / "data" / "journal" / ".self-check"));
  // A probe that cannot be synced is an I/O fault, not a permission one.
  faults.fail_next_call(FaultOp::kSync, EIO);
  ASSERT_TRUE(within_five_seconds([&] { return journal->self_check_error().has_value(); }));
  EXPECT_EQ(journal->self_check_error()->code(), ErrorCode::kStorageIoError);
  EXPECT_FALSE(fs::exists(dir_ / "data" / "journal" / ".self-check"));
}

// Whether `condition` stays false for `span` (for things that must not happen while a fault
// lasts); checked every few milliseconds.
template <typename Condition>
bool stays_false_for(Condition condition, std::chrono::milliseconds span) {
  const auto deadline = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !condition();
}

Status append_and_wait(Journal& journal, const std::string& payload) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto answered = promise->get_future();
  auto appended =
      journal.append({{4, false, payload}}, [promise](Status status) { promise->set_value(status); });
  if (!appended) return std::move(appended).error();
  return answered.get();
}

class JournalRepairTest : public JournalTest, public ::testing::WithParamInterface<FaultOp> {};

TEST_P(JournalRepairTest, FailedCommitIsCutOffAndAppendsResumeGapFreeOnceTheFaultIsGone) {
  FaultFileSystem faults;
  JournalOptions checked = checked_options(faults, 1 << 16);
  auto journal = open_unstarted(checked);
  ASSERT_NE(journal, nullptr);
  journal->start();
  const auto before = append_all(*journal, {"a", "b"});
  faults.set_rules({FaultRule{GetParam(), "*.seg", EIO}});
  const Status failed = append_and_wait(*journal, "failed");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kStorageIoError);
  EXPECT_NE(failed.error().message().find(".seg"), std::string::npos) << failed.error().message();
  // While the fault lasts every repair fails (it needs the segment's write or fsync): refused.
  EXPECT_TRUE(stays_false_for([&] { return journal->awaiting_resume(); }, std::chrono::milliseconds(150)));
  EXPECT_FALSE(journal->resume_after_repair());
  EXPECT_FALSE(append_and_wait(*journal, "refused").ok());
  faults.set_rules({});
  ASSERT_TRUE(within_five_seconds([&] { return journal->awaiting_resume(); }));
  EXPECT_TRUE(journal->sticky_error().has_value()) << "refused until the owner resumes";
  ASSERT_TRUE(journal->resume_after_repair());
  EXPECT_FALSE(journal->sticky_error().has_value());
  const auto after = append_all(*journal, {"c"});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].seq, before[1].seq + 1) << "sequence numbers go on from the last confirmed record";
  EXPECT_GT(after[0].location.segment_id, before[1].location.segment_id) << "a fresh segment";
  auto read = journal->read(after[0].location);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "c");
  journal.reset();
  faults.simulate_power_loss(PowerLossModel::kDropAllUnsynced, 1);
  CollectingVisitor recovered;
  RecoveryReport recovered_report;
  auto reopened = open(posix_, recovered, recovered_report, 1 << 16);
  EXPECT_EQ(recovered.payloads(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(recovered_report.problems.empty()) << recovered_report.problems.front();
  EXPECT_TRUE(recovered_report.corrupt.empty());
}

INSTANTIATE_TEST_SUITE_P(WriteAndFsync, JournalRepairTest, ::testing::Values(FaultOp::kSync, FaultOp::kWrite),
                         [](const auto& info) { return info.param == FaultOp::kSync ? "Fsync" : "Write"; });

// A batch whose older segment synced but whose newer one did not: every commit in it failed,
// so the records in the older segment must go too, or a restart would bring them back.
TEST_F(JournalTest, FailedBatchRecordsAreCutOffEvenInASegmentThatSynced) {
  const std::string kilobyte(1000, 'x');
  {
    CollectingVisitor visitor;
    RecoveryReport report;
    auto journal = open(posix_, visitor, report);
    append_all(*journal, {"a1", "a2"});
  }
  FaultFileSystem faults;
  JournalOptions checked = checked_options(faults, 4096);
  auto journal = open_unstarted(checked);  // appends go to segment 2
  ASSERT_NE(journal, nullptr);
  faults.set_rules({FaultRule{FaultOp::kSync, segment_file_name(3), EIO}});
  // Queued before the writer starts, so that one batch writes segment 2 and rolls into 3.
  std::vector<std::future<Status>> answers;
  for (int i = 0; i < 4; ++i) {
    auto promise = std::make_shared<std::promise<Status>>();
    answers.push_back(promise->get_future());
    auto appended = journal->append({{4, false, fmt::format("b{}{}", i, kilobyte)}},
                                    [promise](Status status) { promise->set_value(status); });
    ASSERT_TRUE(appended.ok());
    EXPECT_EQ(appended->front().location.segment_id, i < 3 ? 2u : 3u);
  }
  journal->start();
  for (auto& answer : answers) EXPECT_FALSE(answer.get().ok());
  faults.set_rules({});
  ASSERT_TRUE(within_five_seconds([&] { return journal->awaiting_resume(); }));
  ASSERT_TRUE(journal->resume_after_repair());
  append_all(*journal, {"c"});
  EXPECT_FALSE(fs::exists(dir_ / "data" / "journal" / segment_file_name(3)));
  journal.reset();
  faults.simulate_power_loss(PowerLossModel::kDropAllUnsynced, 1);
  CollectingVisitor recovered;
  RecoveryReport recovered_report;
  auto reopened = open(posix_, recovered, recovered_report);
  EXPECT_EQ(recovered.payloads(), (std::vector<std::string>{"a1", "a2", "c"}));
  EXPECT_TRUE(recovered_report.problems.empty()) << recovered_report.problems.front();
}

TEST_F(JournalTest, IntervalSyncModeStaysFailedUntilARestart) {
  FaultFileSystem faults;
  JournalOptions checked = checked_options(faults, 1 << 16);
  checked.sync_policy = SyncPolicy::kInterval;
  checked.sync_interval_ms = 10;
  auto journal = open_unstarted(checked);
  ASSERT_NE(journal, nullptr);
  journal->start();
  faults.set_rules({FaultRule{FaultOp::kSync, "*.seg", EIO}});
  EXPECT_TRUE(append_and_wait(*journal, "answered after its write").ok());
  ASSERT_TRUE(within_five_seconds([&] { return journal->sticky_error().has_value(); }));
  faults.set_rules({});
  EXPECT_TRUE(stays_false_for([&] { return journal->awaiting_resume(); }, std::chrono::milliseconds(100)));
}

}  // namespace
}  // namespace ballast::storage

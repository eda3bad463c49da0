#include "storage/journal_verifier.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <future>

#include "storage/fault_file_system.h"
#include "storage/journal.h"
#include "storage/posix_file_system.h"
#include "storage/record_codec.h"
#include "storage/segment_header.h"

namespace ballast::storage {
namespace {

namespace fs = std::filesystem;

class NoRecovery : public RecoveryVisitor {
 public:
  void load_snapshot(std::span<const std::byte>) override {}
  void apply_group(std::span<const ReplayedRecord>) override {}
};

class RecordingInspector : public JournalInspector {
 public:
  void snapshot(std::span<const std::byte> bytes) override { snapshots += bytes.empty() ? 0 : 1; }
  void record(const VerifiedRecord& record) override { seqs.push_back(record.seq); }
  void damage(const JournalDamage& damage, std::span<const std::byte> bytes) override {
    damaged_bytes.push_back(bytes.size());
    EXPECT_EQ(bytes.size(), damage.end_offset - damage.offset);
  }
  int snapshots = 0;
  std::vector<uint64_t> seqs;
  std::vector<size_t> damaged_bytes;
};

class JournalVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ballast-verifier-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path data_dir() const { return dir_ / "data"; }

  // Opens the journal (a new tail segment each time), appends one record per payload, stops.
  std::vector<AppendedRecord> write_journal(int count, uint64_t segment_bytes = 1 << 16) {
    JournalOptions options;
    options.data_dir = data_dir();
    options.segment_bytes = segment_bytes;
    options.file_system = &posix_;
    NoRecovery visitor;
    RecoveryReport report;
    auto journal = Journal::open(options, visitor, report);
    EXPECT_TRUE(journal.ok()) << (journal.ok() ? "" : journal.error().describe());
    if (!journal.ok()) return {};
    (*journal)->start();
    std::vector<AppendedRecord> appended;
    std::vector<std::future<bool>> done;
    for (int i = 0; i < count; ++i) {
      auto promise = std::make_shared<std::promise<bool>>();
      done.push_back(promise->get_future());
      auto result = (*journal)->append({RecordToAppend{4, false, fmt::format("payload-{:04}", i)}},
                                       [promise](Status status) { promise->set_value(status.ok()); });
      EXPECT_TRUE(result.ok());
      if (result.ok()) appended.push_back(result->front());
    }
    for (auto& future : done) EXPECT_TRUE(future.get());
    return appended;
  }

  // A real write of `bytes` into the segment file at `offset`.
  void overwrite(uint64_t segment_id, uint64_t offset, const std::string& bytes) {
    const fs::path path = data_dir() / "journal" / segment_file_name(segment_id);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    EXPECT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  std::string read_bytes(uint64_t segment_id, uint64_t offset, size_t count) {
    std::ifstream file(data_dir() / "journal" / segment_file_name(segment_id), std::ios::binary);
    std::string bytes(count, '\0');
    file.seekg(static_cast<std::streamoff>(offset));
    file.read(bytes.data(), static_cast<std::streamsize>(count));
    EXPECT_TRUE(file.good());
    return bytes;
  }

  Result<VerifyReport> verify(RecordingInspector& inspector, FileSystem* file_system = nullptr) {
    auto lock = DataDirLock::acquire(data_dir());
    EXPECT_TRUE(lock.ok()) << (lock.ok() ? "" : lock.error().describe());
    return verify_journal(file_system != nullptr ? *file_system : posix_, data_dir(), inspector);
  }

  fs::path dir_;
  PosixFileSystem posix_;
};

TEST_F(JournalVerifierTest, CleanJournalReadsEveryRecordWithoutDamage) {
  const auto appended = write_journal(10);
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_EQ(report->segments_read, 1u);
  EXPECT_EQ(report->records, 10u);
  EXPECT_EQ(report->record_bytes, 10 * appended[0].location.bytes);
  EXPECT_TRUE(report->damage.empty());
  EXPECT_TRUE(report->torn_tails.empty());
  EXPECT_EQ(inspector.seqs.size(), 10u);
}

TEST_F(JournalVerifierTest, FlippedPayloadByteIsBadCrcAtThatRecordsOffset) {
  const auto appended = write_journal(6);
  const RecordLocation damaged = appended[2].location;
  overwrite(damaged.segment_id, damaged.offset + 30, "X");
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  ASSERT_EQ(report->damage.size(), 1u);
  const JournalDamage& damage = report->damage[0];
  EXPECT_EQ(damage.file, "journal/" + segment_file_name(damaged.segment_id));
  EXPECT_EQ(damage.segment_id, damaged.segment_id);
  EXPECT_EQ(damage.offset, damaged.offset);
  EXPECT_EQ(damage.end_offset, appended[3].location.offset);
  EXPECT_EQ(damage.status, DamageStatus::kBadCrc);
  EXPECT_EQ(report->records, 5u);
  EXPECT_EQ(inspector.damaged_bytes, std::vector<size_t>{damaged.bytes});
}

TEST_F(JournalVerifierTest, HugeLengthIsBadLength) {
  const auto appended = write_journal(4);
  const RecordLocation damaged = appended[1].location;
  overwrite(damaged.segment_id, damaged.offset + 4, std::string("\xff\xff\xff\x7f", 4));
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  ASSERT_EQ(report->damage.size(), 1u);
  EXPECT_EQ(report->damage[0].offset, damaged.offset);
  EXPECT_EQ(report->damage[0].status, DamageStatus::kBadLength);
}

TEST_F(JournalVerifierTest, TornTailOfTheNewestSegmentIsAWarningNotDamage) {
  const auto appended = write_journal(3);
  const RecordLocation last = appended.back().location;
  const uint64_t tail = last.offset + last.bytes;
  // A crash in the middle of writing the next record: its header, a few payload bytes.
  overwrite(last.segment_id, tail, read_bytes(last.segment_id, last.offset, kRecordHeaderBytes + 4));
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_TRUE(report->damage.empty());
  ASSERT_EQ(report->torn_tails.size(), 1u);
  EXPECT_EQ(report->torn_tails[0].offset, tail);
  EXPECT_EQ(report->records, 3u);
}

TEST_F(JournalVerifierTest, StaleGenerationInAnOlderSegmentIsDamageThatRecoveryWouldSkip) {
  const auto appended = write_journal(5);
  write_journal(0);  // a restart: segment 1 is no longer the newest
  const RecordLocation damaged = appended[1].location;
  overwrite(damaged.segment_id, damaged.offset + 12, std::string("\x07\x07\x07\x07", 4));
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_EQ(report->segments_read, 2u);
  ASSERT_EQ(report->damage.size(), 1u);
  EXPECT_EQ(report->damage[0].status, DamageStatus::kStaleGeneration);
  EXPECT_EQ(report->damage[0].offset, damaged.offset);
  EXPECT_EQ(report->damage[0].end_offset, appended[2].location.offset);
  EXPECT_EQ(report->records, 4u);
}

TEST_F(JournalVerifierTest, DamageRunningToTheEndOfAnOlderSegmentIsDamage) {
  const auto appended = write_journal(3);
  write_journal(0);
  const RecordLocation last = appended.back().location;
  overwrite(last.segment_id, last.offset, std::string(8, '\x33'));
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  ASSERT_EQ(report->damage.size(), 1u);
  EXPECT_EQ(report->damage[0].offset, last.offset);
  EXPECT_TRUE(report->torn_tails.empty());
}

TEST_F(JournalVerifierTest, DamagedSegmentHeaderOfAnOlderSegmentIsDamage) {
  write_journal(3);
  write_journal(0);
  overwrite(1, 0, "NOTMAGIC");
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_TRUE(report.ok()) << report.error().describe();
  ASSERT_EQ(report->damage.size(), 1u);
  EXPECT_EQ(report->damage[0].status, DamageStatus::kBadSegmentHeader);
  EXPECT_EQ(report->damage[0].offset, 0u);
}

TEST_F(JournalVerifierTest, DirectoryWithoutSuperblockIsNotFound) {
  fs::create_directories(data_dir());
  RecordingInspector inspector;
  auto report = verify(inspector);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(report.error().message().find(data_dir().string()), std::string::npos);
}

TEST_F(JournalVerifierTest, UnreadableFileIsAnErrorNamingThePath) {
  write_journal(2);
  FaultFileSystem faults;
  faults.fail_next_call(FaultOp::kOpen, EACCES);
  RecordingInspector inspector;
  auto report = verify(inspector, &faults);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kStoragePermissionDenied);
  EXPECT_NE(report.error().message().find("superblock"), std::string::npos) << report.error().describe();
}

}  // namespace
}  // namespace ballast::storage

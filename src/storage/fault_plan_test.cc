#include "storage/fault_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace ballast::storage {
namespace {

namespace fs = std::filesystem;

TEST(FaultPlan, ParsesRulesAndSkipsCommentsAndBlankLines) {
  auto rules = parse_fault_plan("# EIO on segment syncs\n\nsync *.seg EIO\nwrite 00*.seg ENOSPC\n");
  ASSERT_TRUE(rules.ok()) << rules.error().describe();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ(describe_fault_rule((*rules)[0]), "sync *.seg EIO");
  EXPECT_EQ((*rules)[1].op, FaultOp::kWrite);
  EXPECT_EQ((*rules)[1].error_number, ENOSPC);
}

TEST(FaultPlan, NamesTheBadLine) {
  for (const char* text : {"sink *.seg EIO\n", "sync *.seg EWHAT\n", "sync *.seg\n", "sync a b c\n"}) {
    auto rules = parse_fault_plan(std::string("sync *.seg EIO\n") + text);
    ASSERT_FALSE(rules.ok()) << text;
    EXPECT_EQ(rules.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(rules.error().message().find("line 2"), std::string::npos) << rules.error().message();
  }
}

class WatchedPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ballast-fault-plan-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Replaces the plan the way a test does: write aside, rename over.
  void write_plan(const std::string& text) {
    {
      std::ofstream out(dir_ / "plan.tmp");
      out << text;
    }
    fs::rename(dir_ / "plan.tmp", dir_ / "plan");
  }

  // Calls sync on `file` until it fails (or succeeds) as wanted, for at most 2 s: the plan is
  // checked every few milliseconds.
  static bool sync_becomes(File& file, bool ok) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      if (file.sync().ok() == ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  fs::path dir_;
};

TEST_F(WatchedPlan, StandingFaultsFollowThePlanFileUntilItIsEmptied) {
  FaultFileSystem faults;
  faults.watch_plan_file(dir_ / "plan");  // missing: no faults
  auto segment = faults.open(dir_ / "0000000000000001.seg", OpenMode::kCreateExclusive);
  auto other = faults.open(dir_ / "checkpoint", OpenMode::kCreateExclusive);
  ASSERT_TRUE(segment.ok() && other.ok());
  EXPECT_TRUE((*segment)->sync().ok());

  write_plan("sync *.seg EIO\n");
  ASSERT_TRUE(sync_becomes(**segment, false));
  const Status failed = (*segment)->sync();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kStorageIoError);
  EXPECT_NE(failed.error().message().find("0000000000000001.seg"), std::string::npos);
  EXPECT_TRUE((*other)->sync().ok()) << "the glob matches segment files only";
  EXPECT_TRUE((*segment)->write_at(0, std::as_bytes(std::span("x", 1))).ok()) << "only sync is planned";

  write_plan("");
  EXPECT_TRUE(sync_becomes(**segment, true));
}

}  // namespace
}  // namespace ballast::storage

#include "ops/startup_checks.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "broker/broker_test_support.h"
#include "ops/data_dir_repair.h"
#include "storage/data_dir_lock.h"

namespace ballast::ops {
namespace {

constexpr uid_t kNobody = 65534;

// The checks of a stopped broker made by the doctor (running as root) for server.user nobody,
// in a 0755 temporary directory, with a fake cgroup tree and listeners on free ports.
class StartupChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      if (std::getenv("CI") != nullptr) FAIL() << "needs root (chown, checks for another user)";
      GTEST_SKIP() << "needs root (chown, checks for another user); fails instead under CI=true";
    }
    ::chmod(root_.path().c_str(), 0755);
    data_dir_ = root_.path() / "data";
    draft_.config.user = "nobody";
    draft_.config.data_dir = data_dir_.string();
    draft_.config.http_listen = "127.0.0.1:0";
    draft_.config.amqp_listen = "127.0.0.1:0";
    std::filesystem::create_directories(root_.path() / "cgroup");
    std::ofstream(root_.path() / "cgroup" / "memory.max") << "max\n";
    std::ofstream(root_.path() / "self-cgroup") << "0::/\n";
    options_.mode = CheckMode::kDoctor;
    options_.cgroup_root = root_.path() / "cgroup";
    options_.proc_self_cgroup = root_.path() / "self-cgroup";
    options_.open_file_limit = 65536;
  }

  void make_data_dir(uid_t owner, mode_t mode) {
    std::filesystem::create_directories(data_dir_ / "journal");
    for (const auto& dir : {data_dir_, data_dir_ / "journal"}) {
      ASSERT_EQ(::chown(dir.c_str(), owner, owner), 0);
      ::chmod(dir.c_str(), mode);
    }
  }

  StartupReport run() { return run_startup_checks(draft_, options_); }

  static std::vector<CheckResult> failures(const StartupReport& report) {
    std::vector<CheckResult> failed;
    for (const auto& result : report.results) {
      if (result.status == CheckStatus::kFail) failed.push_back(result);
    }
    return failed;
  }

  static const CheckResult* find(const StartupReport& report, std::string_view name) {
    for (const auto& result : report.results) {
      if (result.name == name) return &result;
    }
    return nullptr;
  }

  broker::testing::TempDir root_;
  std::filesystem::path data_dir_;
  ConfigDraft draft_;
  CheckOptions options_;
};

TEST_F(StartupChecksTest, AWritableDataDirectoryPassesEveryCheck) {
  make_data_dir(kNobody, 0750);
  const auto report = run();
  EXPECT_EQ(report.user.uid, kNobody);
  EXPECT_EQ(report.user_source, "server.user");
  EXPECT_TRUE(failures(report).empty()) << failures(report).front().message;
  EXPECT_EQ(first_failing_class(report.results), ProblemClass::kNone);
  for (const char* name : {"config", "user", "data_dir.access", "data_dir.filesystem", "disk.free", "lock",
                           "descriptors", "memory", "ports.http", "ports.amqp"}) {
    EXPECT_NE(find(report, name), nullptr) << name;
  }
}

TEST_F(StartupChecksTest, AnUnwritableDirectoryIsAPermissionProblemNeverAShortage) {
  make_data_dir(0, 0755);
  const auto report = run();
  const auto failed = failures(report);
  ASSERT_FALSE(failed.empty());
  for (const auto& result : failed) {
    EXPECT_EQ(result.problem_class, ProblemClass::kPermission) << result.name << ": " << result.message;
    EXPECT_EQ(result.code, ErrorCode::kStoragePermissionDenied);
  }
  const CheckResult* access = find(report, "data_dir.access");
  ASSERT_NE(access, nullptr);
  EXPECT_NE(access->message.find("nobody"), std::string::npos) << access->message;
  EXPECT_NE(access->message.find("mode 0755"), std::string::npos) << access->message;
  EXPECT_FALSE(access->fix.empty());
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 77);
}

TEST_F(StartupChecksTest, AMissingDirectoryIsFineWhenItsParentIsWritable) {
  ASSERT_EQ(::chown(root_.path().c_str(), kNobody, kNobody), 0);
  const auto report = run();
  EXPECT_TRUE(failures(report).empty()) << failures(report).front().message;
  ASSERT_NE(find(report, "data_dir.exists"), nullptr);
  EXPECT_NE(find(report, "data_dir.exists")->message.find("does not exist yet"), std::string::npos);
}

TEST_F(StartupChecksTest, AFileInPlaceOfTheDirectoryIsAStorageProblem) {
  std::ofstream(data_dir_) << "not a directory";
  const auto report = run();
  ASSERT_NE(find(report, "data_dir.exists"), nullptr);
  EXPECT_EQ(find(report, "data_dir.exists")->problem_class, ProblemClass::kStorage);
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 74);
}

TEST_F(StartupChecksTest, ConfigProblemsComeTogetherWithTheOthers) {
  make_data_dir(0, 0755);
  draft_.problems = {"ballast.toml:3: unknown key storage.sync_mod (did you mean storage.sync_mode?)"};
  const auto report = run();
  ASSERT_NE(find(report, "config"), nullptr);
  EXPECT_EQ(find(report, "config")->status, CheckStatus::kFail);
  EXPECT_NE(find(report, "config")->message.find("did you mean storage.sync_mode?"), std::string::npos);
  ASSERT_NE(find(report, "data_dir.access"), nullptr);
  EXPECT_EQ(find(report, "data_dir.access")->status, CheckStatus::kFail);
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 78);
}

TEST_F(StartupChecksTest, AHeldLockNamesThePid) {
  make_data_dir(kNobody, 0750);
  auto lock = storage::DataDirLock::acquire(data_dir_);
  ASSERT_TRUE(lock.ok());
  // As the broker (nobody) would have left it: the lock file is the only problem.
  ASSERT_EQ(::chown((data_dir_ / "ballast.lock").c_str(), kNobody, kNobody), 0);
  const auto report = run();
  const CheckResult* result = find(report, "lock");
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->status, CheckStatus::kFail);
  EXPECT_EQ(result->problem_class, ProblemClass::kLocked);
  EXPECT_NE(result->message.find(std::to_string(::getpid())), std::string::npos) << result->message;
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 75);
}

TEST_F(StartupChecksTest, ACgroupLimitBelowTheReadCacheIsAResourceProblem) {
  make_data_dir(kNobody, 0750);
  std::ofstream(root_.path() / "cgroup" / "memory.max") << "1048576\n";
  draft_.config.read_cache_bytes = 64ull << 20;
  const auto report = run();
  const CheckResult* memory = find(report, "memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(memory->status, CheckStatus::kFail);
  EXPECT_EQ(memory->code, ErrorCode::kBrokerMemoryLimit);
  EXPECT_NE(memory->message.find("1048576"), std::string::npos);
  EXPECT_NE(memory->message.find("limits.max_memory_bytes = 0 (off"), std::string::npos) << memory->message;
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 73);
}

TEST_F(StartupChecksTest, ACgroupLimitWithoutRoomAboveTheBrokerMemoryLimitIsAResourceProblem) {
  make_data_dir(kNobody, 0750);
  std::ofstream(root_.path() / "cgroup" / "memory.max") << "1073741824\n";
  draft_.config.max_memory_bytes = 1ull << 30;
  draft_.config.max_request_bytes = 32ull << 20;
  const auto report = run();
  const CheckResult* memory = find(report, "memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(memory->status, CheckStatus::kFail);
  EXPECT_EQ(memory->code, ErrorCode::kBrokerMemoryLimit);
  EXPECT_NE(memory->message.find("limits.max_memory_bytes = 1073741824"), std::string::npos)
      << memory->message;
  EXPECT_NE(memory->message.find("needs 1107296256 bytes"), std::string::npos) << memory->message;
  EXPECT_NE(memory->fix.find("at most 1040187392"), std::string::npos) << memory->fix;
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 73);

  draft_.config.max_memory_bytes = 1040187392;
  const auto fitting = run();
  ASSERT_NE(find(fitting, "memory"), nullptr);
  EXPECT_EQ(find(fitting, "memory")->status, CheckStatus::kOk) << find(fitting, "memory")->message;
}

TEST_F(StartupChecksTest, ALowOpenFileLimitIsAResourceProblem) {
  make_data_dir(kNobody, 0750);
  options_.open_file_limit = 16;
  const auto report = run();
  const CheckResult* descriptors = find(report, "descriptors");
  ASSERT_NE(descriptors, nullptr);
  EXPECT_EQ(descriptors->status, CheckStatus::kFail);
  EXPECT_EQ(descriptors->code, ErrorCode::kDescriptorLimit);
  EXPECT_EQ(descriptors->problem_class, ProblemClass::kResource);
  EXPECT_NE(descriptors->message.find("max connections: not configured"), std::string::npos);
}

TEST_F(StartupChecksTest, APortInUseIsAListenProblem) {
  make_data_dir(kNobody, 0750);
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t length = sizeof(address);
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length);
  draft_.config.http_listen = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
  const auto report = run();
  ::close(holder);
  const CheckResult* port = find(report, "ports.http");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->status, CheckStatus::kFail);
  EXPECT_EQ(port->code, ErrorCode::kListenFailed);
  EXPECT_NE(port->message.find("in use"), std::string::npos) << port->message;
  EXPECT_EQ(exit_status_for_class(first_failing_class(report.results)), 76);
}

TEST_F(StartupChecksTest, RepairGivesTheDirectoryToTheUserAndSaysWhatItChanged) {
  make_data_dir(0, 0555);
  std::ofstream(data_dir_ / "journal" / "000001.seg") << "x";
  ::chmod((data_dir_ / "journal" / "000001.seg").c_str(), 0444);
  ASSERT_FALSE(failures(run()).empty());
  const auto user = identity_for_user("nobody");
  ASSERT_TRUE(user.ok());
  const RepairReport repair = repair_data_dir(draft_.config, *user);
  EXPECT_TRUE(repair.failures.empty());
  const auto said = [&](const std::string& text) {
    return std::any_of(repair.changes.begin(), repair.changes.end(),
                       [&](const std::string& change) { return change.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(said("chown nobody:"));
  EXPECT_TRUE(said("chmod 0755 " + data_dir_.string()));
  EXPECT_TRUE(said("000001.seg"));
  const auto after = run();
  EXPECT_TRUE(failures(after).empty()) << failures(after).front().message;
}

TEST_F(StartupChecksTest, RepairNeverFollowsASymlinkedDirectoryOutOfTheDataDirectory) {
  make_data_dir(kNobody, 0750);
  // The broker's user swapped journal/ for a link to a root-owned directory elsewhere.
  const auto outside = root_.path() / "outside";
  std::filesystem::create_directory(outside);
  std::ofstream(outside / "secret") << "x";
  ::chmod((outside / "secret").c_str(), 0600);
  std::filesystem::remove_all(data_dir_ / "journal");
  std::filesystem::create_directory_symlink(outside, data_dir_ / "journal");
  const auto user = identity_for_user("nobody");
  ASSERT_TRUE(user.ok());
  const RepairReport repair = repair_data_dir(draft_.config, *user);
  ASSERT_FALSE(repair.failures.empty());
  EXPECT_NE(repair.failures.front().message().find("symbolic link"), std::string::npos)
      << repair.failures.front().message();
  struct stat info {};
  ASSERT_EQ(::stat((outside / "secret").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 0u);  // untouched
  ASSERT_EQ(::stat(outside.c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 0u);
}

TEST_F(StartupChecksTest, RepairCreatesAMissingDirectory) {
  draft_.config.data_dir = (root_.path() / "new" / "data").string();
  const auto user = identity_for_user("nobody");
  ASSERT_TRUE(user.ok());
  const RepairReport repair = repair_data_dir(draft_.config, *user);
  EXPECT_TRUE(repair.failures.empty());
  ASSERT_GE(repair.changes.size(), 3u);
  EXPECT_NE(repair.changes[0].find("created"), std::string::npos);
  struct stat info {};
  ASSERT_EQ(::stat(draft_.config.data_dir.c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, kNobody);
  EXPECT_TRUE(failures(run()).empty());
}

}  // namespace
}  // namespace ballast::ops

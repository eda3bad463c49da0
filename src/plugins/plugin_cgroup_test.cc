// Plug-in cgroups (plugin_cgroup.h): real cgroups of this machine for the process tests, fake
// trees for the v2 file formats and the failures. The real ones need root and a writable cgroup
// mount; under CI=true a test that cannot create a cgroup fails with the reason, never skips.
#include "plugins/plugin_cgroup.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "broker/broker_test_support.h"
#include "plugins/plugin_process.h"

namespace ballast::plugins {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ballast-cgroup-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A plug-in name no other test or run on this machine uses at the same time.
std::string unique_name(const std::string& what) {
  return fmt::format("test-{}-{}", ::getpid(), what);
}

PluginConfig sh_plugin(const std::string& name, const std::string& script) {
  PluginConfig config;
  config.name = name;
  config.command = {"/bin/sh", "-c", script};
  return config;
}

// The controller -> cgroup directory of `pid` in this machine's v1 hierarchies.
std::map<std::string, fs::path> v1_directories_of(pid_t pid) {
  std::map<std::string, fs::path> directories;
  std::istringstream lines(read_text(fmt::format("/proc/{}/cgroup", pid)));
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controller = line.substr(first + 1, second - first - 1);
    directories[controller] =
        fs::path("/sys/fs/cgroup") / controller / fs::path(line.substr(second + 1)).relative_path();
  }
  return directories;
}

bool readable_within(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, timeout_ms) == 1;
}

// Real cgroups: v1 this machine's way; fails under CI when they cannot be created here.
class RealCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginConfig probe = sh_plugin(unique_name("probe"), "exit 0");
    probe.cgroup_memory_max_bytes = 64ull << 20;
    probe.cgroup_pids_max = 8;
    const CgroupHost host = CgroupHost::of_this_process();
    if (fs::exists(host.root / "cgroup.controllers")) {
      if (std::getenv("CI") != nullptr) FAIL() << "these tests read cgroup v1 files; this machine has v2";
      GTEST_SKIP() << "cgroup v1 needed; fails instead under CI=true";
    }
    if (Status usable = PluginCgroup::check_parents(probe, host); !usable) {
      if (std::getenv("CI") != nullptr) FAIL() << "cannot create cgroups: " << usable.error().describe();
      GTEST_SKIP() << "cannot create cgroups (fails instead under CI=true): " << usable.error().describe();
    }
  }

  // Waits for the process to end and reaps it; its wait status.
  static int wait_and_reap(PluginProcess& process, int pidfd) {
    EXPECT_TRUE(readable_within(pidfd, 20000));
    const std::optional<int> status = process.try_reap();
    EXPECT_TRUE(status.has_value());
    return status.value_or(-1);
  }
};

TEST_F(RealCgroupTest, APluginWithPidsAndMemoryLimitsRunsInItsOwnCgroupWithTheLimitsWritten) {
  const std::string name = unique_name("limits");
  PluginConfig config = sh_plugin(name, "read line");
  config.cgroup_pids_max = 32;
  config.cgroup_memory_max_bytes = 64ull << 20;
  auto started = PluginProcess::start(config);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  const std::map<std::string, fs::path> directories = v1_directories_of(process.pid());
  ASSERT_TRUE(directories.count("pids") && directories.count("memory"));
  const fs::path pids = directories.at("pids"), memory = directories.at("memory");
  EXPECT_EQ(pids.filename(), "ballast-plugin-" + name);
  EXPECT_EQ(memory.filename(), "ballast-plugin-" + name);
  EXPECT_EQ(read_text(pids / "pids.max"), "32\n");
  EXPECT_EQ(read_text(memory / "memory.limit_in_bytes"), fmt::format("{}\n", 64ull << 20));
  EXPECT_NE(read_text(pids / "cgroup.procs").find(fmt::format("{}\n", process.pid())), std::string::npos);

  const int in = process.release_stdin(), pidfd = process.release_pidfd();
  ::close(in);
  EXPECT_EQ(describe_wait_status(wait_and_reap(process, pidfd)), "exited with status 1");
  EXPECT_FALSE(fs::exists(pids)) << pids;
  EXPECT_FALSE(fs::exists(memory)) << memory;
  ::close(pidfd);
}

TEST_F(RealCgroupTest, TheCpuQuotaIsWrittenAsAShareOfTheHundredMillisecondPeriod) {
  const std::string name = unique_name("cpu");
  PluginConfig config = sh_plugin(name, "read line");
  config.cgroup_cpu_max_percent = 150;
  auto started = PluginProcess::start(config);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  const fs::path cpu = v1_directories_of(process.pid())["cpu"];
  EXPECT_EQ(cpu.filename(), "ballast-plugin-" + name);
  EXPECT_EQ(read_text(cpu / "cpu.cfs_period_us"), "100000\n");
  EXPECT_EQ(read_text(cpu / "cpu.cfs_quota_us"), "150000\n");
  const int in = process.release_stdin(), pidfd = process.release_pidfd();
  ::close(in);
  wait_and_reap(process, pidfd);
  EXPECT_FALSE(fs::exists(cpu));
  ::close(pidfd);
}

TEST_F(RealCgroupTest, APluginThatAllocatesPastItsMemoryLimitIsKilled) {
  PluginConfig config;
  config.name = unique_name("hog");
  config.command = {"/usr/bin/python3", "-c", "x = b'a' * (256 << 20)\nprint('survived')"};
  config.max_memory_bytes = 0;  // only the cgroup limits it
  config.cgroup_memory_max_bytes = 32ull << 20;
  auto started = PluginProcess::start(config);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  const int out = process.release_stdout(), pidfd = process.release_pidfd();
  EXPECT_EQ(describe_wait_status(wait_and_reap(process, pidfd)), "was killed by signal 9 (SIGKILL)");
  char buffer[16] = {};
  EXPECT_LE(::read(out, buffer, sizeof buffer - 1), 0) << buffer;
  ::close(out);
  ::close(pidfd);
}

TEST_F(RealCgroupTest, ALeftoverCgroupOfTheSameNameIsReplaced) {
  const std::string name = unique_name("leftover");
  const fs::path leftover = v1_directories_of(::getpid())["pids"] / ("ballast-plugin-" + name);
  ASSERT_EQ(::mkdir(leftover.c_str(), 0755), 0) << leftover;
  PluginConfig config = sh_plugin(name, "read line");
  config.cgroup_pids_max = 4;
  auto started = PluginProcess::start(config);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  EXPECT_EQ(v1_directories_of(process.pid())["pids"], leftover);
  EXPECT_EQ(read_text(leftover / "pids.max"), "4\n");
  const int in = process.release_stdin(), pidfd = process.release_pidfd();
  ::close(in);
  wait_and_reap(process, pidfd);
  EXPECT_FALSE(fs::exists(leftover));
  ::close(pidfd);
}

TEST_F(RealCgroupTest, AReloadsProcessSharesTheCgroupAndTheLastOneReapedRemovesIt) {
  const std::string name = unique_name("reload");
  // A child of its own in the cgroup, as a command-trigger's running command is.
  PluginConfig config = sh_plugin(name, "sleep 60 & read line");
  config.cgroup_pids_max = 8;
  auto first_started = PluginProcess::start(config);
  ASSERT_TRUE(first_started.ok()) << first_started.error().describe();
  PluginProcess first = std::move(*first_started);
  const fs::path pids = v1_directories_of(first.pid())["pids"];
  pid_t grandchild = 0;
  ASSERT_TRUE(broker::testing::eventually([&] {
    std::istringstream procs(read_text(pids / "cgroup.procs"));
    for (long pid = 0; procs >> pid;) {
      if (pid != first.pid()) grandchild = static_cast<pid_t>(pid);
    }
    return grandchild != 0;
  }));
  auto second_started = PluginProcess::start(config);  // beside the running one, as a reload does
  ASSERT_TRUE(second_started.ok()) << second_started.error().describe();
  PluginProcess second = std::move(*second_started);
  EXPECT_EQ(v1_directories_of(second.pid())["pids"], pids);
  EXPECT_EQ(::kill(grandchild, 0), 0) << "the running process's child must survive the new one's start";

  const int first_in = first.release_stdin(), first_pidfd = first.release_pidfd();
  ::close(first_in);
  wait_and_reap(first, first_pidfd);
  EXPECT_TRUE(fs::exists(pids));
  EXPECT_EQ(::kill(second.pid(), 0), 0) << "the reload's process must survive the old one's reap";
  EXPECT_EQ(::kill(grandchild, 0), 0) << "nothing is killed while a live process of the plug-in is in it";

  const int second_in = second.release_stdin(), second_pidfd = second.release_pidfd();
  ::close(second_in);
  EXPECT_EQ(describe_wait_status(wait_and_reap(second, second_pidfd)), "exited with status 1");
  EXPECT_FALSE(fs::exists(pids));
  ::close(first_pidfd);
  ::close(second_pidfd);
}

TEST_F(RealCgroupTest, AParentCgroupThatDoesNotExistStopsTheStartWithTheR1Error) {
  PluginConfig config = sh_plugin(unique_name("orphan"), "exit 0");
  config.cgroup_pids_max = 5;
  const CgroupHost host{"/sys/fs/cgroup", "8:pids:/ballast-no-such-parent\n"};
  auto started = PluginProcess::start(config, host);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kPluginUnavailable);
  const std::string message = started.error().message();
  EXPECT_NE(message.find(fmt::format("plug-in \"{}\": cannot create its cgroup /sys/fs/cgroup/pids/"
                                     "ballast-no-such-parent/ballast-plugin-{} for cgroup_pids_max = 5: "
                                     "No such file or directory",
                                     config.name, config.name)),
            std::string::npos)
      << message;
  EXPECT_NE(started.error().fix().find(fmt::format(
                "or remove cgroup_pids_max from the [[plugins]] table with name = \"{}\"", config.name)),
            std::string::npos)
      << started.error().fix();
}

TEST(PluginCgroup, AHierarchyThatIsNotADirectoryStopsTheStartNamingThePathAndErrno) {
  TempDir dir;
  write_text(dir.path() / "pids", "a file where the pids hierarchy should be");
  PluginConfig config = sh_plugin("flat", "exit 0");
  config.cgroup_pids_max = 5;
  auto created = PluginCgroup::create(config, CgroupHost{dir.path(), "8:pids:/\n"});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code(), ErrorCode::kPluginUnavailable);
  EXPECT_NE(created.error().message().find((dir.path() / "pids/ballast-plugin-flat").string()),
            std::string::npos)
      << created.error().message();
  EXPECT_NE(created.error().message().find("Not a directory"), std::string::npos)
      << created.error().message();
}

TEST(PluginCgroup, AControllerTheBrokerIsNotInIsNamedWithItsKey) {
  TempDir dir;
  PluginConfig config = sh_plugin("nomem", "exit 0");
  config.cgroup_memory_max_bytes = 64ull << 20;
  auto created = PluginCgroup::create(config, CgroupHost{dir.path(), "8:pids:/\n"});
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message().find("cgroup_memory_max_bytes = 67108864: the cgroup v1 \"memory\" "
                                           "controller is not mounted for the broker"),
            std::string::npos)
      << created.error().message();
}

TEST(PluginCgroup, AChildThatCannotJoinItsCgroupNeverExecutesAndTheErrorNamesTheFile) {
  TempDir dir;  // a leftover in a plain directory, without cgroup.procs: the child's open fails
  write_text(dir.path() / "pids/ballast-plugin-unjoinable/pids.max", "");
  PluginConfig config = sh_plugin("unjoinable", "echo ran > " + (dir.path() / "ran").string());
  config.cgroup_pids_max = 5;
  auto started = PluginProcess::start(config, CgroupHost{dir.path(), "8:pids:/\n"});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kPluginUnavailable);
  const std::string procs = (dir.path() / "pids/ballast-plugin-unjoinable/cgroup.procs").string();
  EXPECT_NE(started.error().message().find("could not join its cgroup: writing \"0\" to " + procs +
                                           " failed: No such file or directory"),
            std::string::npos)
      << started.error().message();
  EXPECT_FALSE(fs::exists(dir.path() / "ran"));
}

// A fake unified (v2) tree: the broker's cgroup offers every controller. Plain files cannot be
// created the way the kernel creates a cgroup's, so each test's plug-in cgroup is laid out as a
// leftover, which create() reuses (a plain directory with files cannot be removed).
class FakeUnifiedTree : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir_.path() / "cgroup.controllers", "cpuset cpu io memory pids\n");
    write_text(service() / "cgroup.controllers", "cpu memory pids\n");
    write_text(service() / "cgroup.subtree_control", "");
  }
  fs::path service() const { return dir_.path() / "system.slice/ballastd.service"; }
  void lay_out_leftover(const std::string& name) const {
    for (const char* file : {"cgroup.procs", "memory.max", "pids.max", "cpu.max"}) {
      write_text(service() / ("ballast-plugin-" + name) / file, "");
    }
  }
  TempDir dir_;
};

TEST_F(FakeUnifiedTree, EnablesTheControllersAndWritesTheV2LimitFiles) {
  lay_out_leftover("unified");
  PluginConfig config = sh_plugin("unified", "exit 0");
  config.cgroup_memory_max_bytes = 64ull << 20;
  config.cgroup_pids_max = 16;
  config.cgroup_cpu_max_percent = 50;
  auto created = PluginCgroup::create(config, CgroupHost{dir_.path(), "0::/system.slice/ballastd.service\n"});
  ASSERT_TRUE(created.ok()) << created.error().describe();
  const fs::path cgroup = service() / "ballast-plugin-unified";
  EXPECT_EQ(created->procs_files(), std::vector<std::string>{(cgroup / "cgroup.procs").string()});
  EXPECT_EQ(read_text(service() / "cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(read_text(cgroup / "memory.max"), "67108864");
  EXPECT_EQ(read_text(cgroup / "pids.max"), "16");
  EXPECT_EQ(read_text(cgroup / "cpu.max"), "50000 100000");
}

TEST_F(FakeUnifiedTree, AControllerNotOfferedToTheBrokersCgroupIsNamedWithTheFix) {
  write_text(service() / "cgroup.controllers", "pids\n");
  PluginConfig config = sh_plugin("unified", "exit 0");
  config.cgroup_memory_max_bytes = 64ull << 20;
  auto created = PluginCgroup::create(config, CgroupHost{dir_.path(), "0::/system.slice/ballastd.service\n"});
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message().find("the memory controller is not offered to the broker's cgroup " +
                                           service().string() + " (its cgroup.controllers reads \"pids\")"),
            std::string::npos)
      << created.error().message();
  EXPECT_NE(created.error().fix().find("Delegate=yes"), std::string::npos) << created.error().fix();
  const Status checked =
      PluginCgroup::check_parents(config, CgroupHost{dir_.path(), "0::/system.slice/ballastd.service\n"});
  EXPECT_FALSE(checked.ok());
}

TEST_F(FakeUnifiedTree, ABrokerInALeafOfADelegatedCgroupGetsItsPluginsBesideIt) {
  ASSERT_EQ(::setxattr(service().c_str(), "trusted.delegate", "1", 1, 0), 0) << "setxattr needs root";
  lay_out_leftover("beside");
  PluginConfig config = sh_plugin("beside", "exit 0");
  config.cgroup_pids_max = 16;
  auto created =
      PluginCgroup::create(config, CgroupHost{dir_.path(), "0::/system.slice/ballastd.service/ballastd\n"});
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_EQ(read_text(service() / "ballast-plugin-beside" / "pids.max"), "16");
}

}  // namespace
}  // namespace ballast::plugins

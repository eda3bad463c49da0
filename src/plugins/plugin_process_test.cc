#include "plugins/plugin_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ballast::plugins {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ballast-plugin-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write_script(const std::string& name, const std::string& text, mode_t mode) const {
    const std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

 private:
  std::string path_;
};

PluginConfig with_command(std::vector<std::string> command) {
  PluginConfig config;
  config.name = "probe";
  config.command = std::move(command);
  return config;
}

// Waits until `fd` is readable, for at most `timeout_ms`.
bool readable_within(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, timeout_ms) == 1;
}

TEST(PluginProcess, AMissingExecutableNamesThePluginPathUserAndFix) {
  auto started = PluginProcess::start(with_command({"/nonexistent/ballast/filter.py"}));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kPluginUnavailable);
  EXPECT_NE(started.error().message().find("plug-in \"probe\""), std::string::npos)
      << started.error().message();
  EXPECT_NE(started.error().message().find("/nonexistent/ballast/filter.py"), std::string::npos);
  EXPECT_NE(started.error().message().find("(uid "), std::string::npos);
  EXPECT_NE(started.error().fix().find("name = \"probe\""), std::string::npos) << started.error().fix();
}

TEST(PluginProcess, AFileWithoutExecutePermissionNamesItsModeAndTheFix) {
  TempDir dir;
  const std::string path = dir.write_script("filter.sh", "#!/bin/sh\nexit 0\n", 0644);
  auto started = PluginProcess::start(with_command({path}));
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message().find("is not executable"), std::string::npos)
      << started.error().message();
  EXPECT_NE(started.error().message().find("mode 0644"), std::string::npos) << started.error().message();
  EXPECT_NE(started.error().fix().find("chmod a+x " + path), std::string::npos) << started.error().fix();
}

TEST(PluginProcess, AProgramNotOnPathIsNamedWithThePath) {
  auto started = PluginProcess::start(with_command({"ballast-no-such-plugin"}));
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message().find("not found on PATH="), std::string::npos)
      << started.error().message();
}

TEST(PluginProcess, ResolvesABareNameOnPathToAnAbsolutePath) {
  auto resolved = resolve_executable(with_command({"sh"}));
  ASSERT_TRUE(resolved.ok()) << resolved.error().describe();
  EXPECT_EQ(resolved->front(), '/');
}

TEST(PluginProcess, RunsTheCommandWithPipesAndReportsItsExitStatus) {
  TempDir dir;
  const std::string path =
      dir.write_script("echo.sh", "#!/bin/sh\nread line\necho \"got $line\"\necho oops >&2\nexit 3\n", 0755);
  auto started = PluginProcess::start(with_command({path}));
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  const int in = process.release_stdin(), out = process.release_stdout(), err = process.release_stderr();
  const int pidfd = process.release_pidfd();
  ASSERT_EQ(::write(in, "ping\n", 5), 5);
  ::close(in);
  ASSERT_TRUE(readable_within(pidfd, 10000));
  char buffer[64] = {};
  ASSERT_GT(::read(out, buffer, sizeof buffer - 1), 0);
  EXPECT_STREQ(buffer, "got ping\n");
  char error_buffer[64] = {};
  ASSERT_GT(::read(err, error_buffer, sizeof error_buffer - 1), 0);
  EXPECT_STREQ(error_buffer, "oops\n");
  const std::optional<int> status = process.try_reap();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "exited with status 3");
  EXPECT_TRUE(process.reaped());
  for (int fd : {out, err, pidfd}) ::close(fd);
}

TEST(PluginProcess, KillEndsTheProcessGroupAndTheStatusNamesTheSignal) {
  TempDir dir;
  const std::string path = dir.write_script("sleepy.sh", "#!/bin/sh\nsleep 600 &\nwait\n", 0755);
  auto started = PluginProcess::start(with_command({path}));
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  const int pidfd = process.release_pidfd();
  process.kill();
  ASSERT_TRUE(readable_within(pidfd, 10000));
  const std::optional<int> status = process.try_reap();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "was killed by signal 9 (SIGKILL)");
  ::close(pidfd);
}

TEST(PluginProcess, TheChildGetsTheConfiguredLimits) {
  TempDir dir;
  const std::string path = dir.write_script("limits.sh", "#!/bin/sh\nulimit -n\nulimit -v\n", 0755);
  PluginConfig config = with_command({path});
  config.max_open_files = 77;
  config.max_memory_bytes = 256ull << 20;
  auto started = PluginProcess::start(config);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  PluginProcess process = std::move(*started);
  const int out = process.release_stdout(), pidfd = process.release_pidfd();
  ASSERT_TRUE(readable_within(pidfd, 10000));
  char buffer[64] = {};
  ASSERT_GT(::read(out, buffer, sizeof buffer - 1), 0);
  EXPECT_STREQ(buffer, "77\n262144\n");
  ASSERT_TRUE(process.try_reap().has_value());
  ::close(out);
  ::close(pidfd);
}

}  // namespace
}  // namespace ballast::plugins

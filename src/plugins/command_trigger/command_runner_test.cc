// The command-trigger's runs as real processes (/bin/sh): input, environment, descriptors and
// signal state of the child, the exit status, signal or timeout, and the outcome of each.
#include "plugins/command_trigger/command_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugins/command_trigger/command_outcome.h"

namespace ballast::command_trigger {
namespace {

using namespace std::chrono_literals;

class CommandRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    output_ = std::tmpfile();
    ASSERT_NE(output_, nullptr);
  }
  void TearDown() override { std::fclose(output_); }

  CommandRun sh(const std::string& script, const std::string& input = {},
                std::chrono::milliseconds timeout = 10s) {
    settings_.argv = {"/bin/sh", "-c", script};
    settings_.timeout = timeout;
    return run_command(settings_, input, {"PATH=/usr/bin:/bin", "BALLAST_QUEUE=orders"}, fileno(output_));
  }
  // What the command wrote to its stdout and stderr.
  std::string output() {
    std::string text;
    char buffer[4096];
    for (off_t offset = 0;;) {
      const ssize_t got = ::pread(fileno(output_), buffer, sizeof buffer, offset);
      if (got <= 0) return text;
      text.append(buffer, static_cast<size_t>(got));
      offset += got;
    }
  }

  FILE* output_ = nullptr;
  CommandSettings settings_;
};

TEST_F(CommandRunner, TheBodyIsItsInputAndTheMetadataItsEnvironment) {
  const CommandRun run = sh("printf '%s|' \"$(cat)\" \"$BALLAST_QUEUE\"; echo done >&2", "order 7\n");
  EXPECT_EQ(run.ending, CommandRun::Ending::kExited);
  EXPECT_EQ(run.status, 0);
  EXPECT_EQ(run.stderr_line, "done");
  EXPECT_EQ(output(), "order 7|orders|done\n");
  EXPECT_EQ(outcome_for(run, settings_).result, "done");
}

TEST_F(CommandRunner, ALargeBodyIsFedWhetherOrNotTheCommandReadsIt) {
  const std::string body(4 << 20, 'b');
  EXPECT_EQ(sh("wc -c", body).status, 0);
  EXPECT_EQ(output(), std::to_string(body.size()) + "\n");
  const CommandRun ignored = sh("exit 0", body);
  EXPECT_EQ(ignored.ending, CommandRun::Ending::kExited);
  EXPECT_EQ(ignored.status, 0);
}

TEST_F(CommandRunner, ItInheritsNoDescriptorNoSignalMaskAndNoIgnoredStandardSignal) {
  const int stray = ::open("/dev/null", O_RDONLY);  // not close-on-exec
  ASSERT_GE(stray, 3);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &blocked, nullptr), 0);
  const CommandRun run =
      sh("ls /proc/$$/fd | tr '\\n' ' '; grep -E '^Sig(Blk|Ign)' /proc/$$/status | tr -s '\\t\\n' '  '");
  pthread_sigmask(SIG_UNBLOCK, &blocked, nullptr);
  ::close(stray);
  EXPECT_EQ(run.status, 0);
  const std::string text = output();
  EXPECT_EQ(text.find(" " + std::to_string(stray) + " "), std::string::npos) << text;
  EXPECT_NE(text.find("SigBlk: 0000000000000000"), std::string::npos) << text;
  // No standard signal (1-31, SIGPIPE among them) ignored; glibc's own real-time ones may be.
  const size_t ignored = text.find("SigIgn: ");
  ASSERT_NE(ignored, std::string::npos) << text;
  EXPECT_EQ(std::stoull(text.substr(ignored + 8, 16), nullptr, 16) & 0x7fffffffull, 0u) << text;
}

TEST_F(CommandRunner, AnyOtherExitFailsNamingTheCommandStatusAndLastStderrLine) {
  const CommandRun run = sh("echo first >&2; printf 'no such customer 42\\n\\n' >&2; exit 3");
  EXPECT_EQ(run.ending, CommandRun::Ending::kExited);
  EXPECT_EQ(run.status, 3);
  const plugin::Outcome outcome = outcome_for(run, settings_);
  EXPECT_EQ(outcome.result, "failed");
  EXPECT_NE(outcome.reason.find("command \"/bin/sh -c echo first"), std::string::npos) << outcome.reason;
  EXPECT_NE(outcome.reason.find("exited with status 3; its last stderr line: no such customer 42"),
            std::string::npos)
      << outcome.reason;
  EXPECT_EQ(sh("head -c 5000 /dev/zero | tr '\\0' x >&2; exit 4").stderr_line.size(), kMaxStderrLineBytes);
}

TEST_F(CommandRunner, ExitSeventyFiveIsRetryAndASignalIsFailed) {
  const plugin::Outcome retry = outcome_for(sh("echo busy >&2; exit 75"), settings_);
  EXPECT_EQ(retry.result, "retry");
  EXPECT_NE(retry.reason.find("exited with status 75 (EX_TEMPFAIL"), std::string::npos) << retry.reason;
  const CommandRun killed = sh("kill -SEGV $$");
  EXPECT_EQ(killed.ending, CommandRun::Ending::kSignalled);
  EXPECT_EQ(killed.status, SIGSEGV);
  const plugin::Outcome failed = outcome_for(killed, settings_);
  EXPECT_EQ(failed.result, "failed");
  EXPECT_NE(failed.reason.find("was killed by signal 11"), std::string::npos) << failed.reason;
}

TEST_F(CommandRunner, ACommandPastItsTimeoutIsKilledWithItsProcessGroupAndRetried) {
  const auto started = std::chrono::steady_clock::now();
  const CommandRun run = sh("sleep 30 & echo $! > /dev/stderr; wait", {}, 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(run.ending, CommandRun::Ending::kTimedOut);
  // The background sleep, in the command's process group, was killed too (a zombie or gone).
  const std::string sleeper = run.stderr_line;
  ASSERT_FALSE(sleeper.empty());
  bool gone = false;
  for (int tries = 0; tries < 500 && !gone; ++tries) {
    std::ifstream stat("/proc/" + sleeper + "/stat");
    std::string line;
    gone = !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << "pid " << sleeper;
  const plugin::Outcome outcome = outcome_for(run, settings_);
  EXPECT_EQ(outcome.result, "retry");
  EXPECT_NE(outcome.reason.find("still ran after timeout_ms = 300: its process group was killed (SIGKILL)"),
            std::string::npos)
      << outcome.reason;
}

TEST_F(CommandRunner, KillRunningCommandEndsTheRunningCommandsGroupAsTheSigtermHandlerDoes) {
  kill_running_command();  // nothing running: nothing happens
  CommandRun run;
  std::atomic<bool> finished{false};
  std::thread runner([&] {
    run = sh("sleep 30 & wait", {}, 60s);
    finished = true;
  });
  const auto started = std::chrono::steady_clock::now();
  // Until the command's group ends, which only the kill brings about within the test's time.
  for (int tries = 0; tries < 1000 && !finished; ++tries) {
    kill_running_command();
    std::this_thread::sleep_for(10ms);
  }
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(run.ending, CommandRun::Ending::kSignalled);
  EXPECT_EQ(run.status, SIGKILL);
}

TEST_F(CommandRunner, ACommandThatCannotStartIsRetryNamingWhy) {
  settings_.argv = {"/no/such/program"};
  const CommandRun run = run_command(settings_, "x", {}, fileno(output_));
  EXPECT_EQ(run.ending, CommandRun::Ending::kNotStarted);
  const plugin::Outcome outcome = outcome_for(run, settings_);
  EXPECT_EQ(outcome.result, "retry");
  EXPECT_NE(
      outcome.reason.find("command \"/no/such/program\" could not be started: No such file or directory"),
      std::string::npos)
      << outcome.reason;
}

TEST_F(CommandRunner, ItRunsInTheWorkingDirectory) {
  settings_.working_dir = "/tmp";
  EXPECT_EQ(sh("pwd").status, 0);
  EXPECT_EQ(output(), "/tmp\n");
}

}  // namespace
}  // namespace ballast::command_trigger

#pragma once
// Runs the command-trigger's command once (docs/plugins.md, "command-trigger"): posix_spawnp in a
// new process group with an empty signal mask and default signal handlers, stdin a pipe that
// gets `input`, stdout the caller's `forward_fd`, stderr a pipe whose bytes are copied to
// `forward_fd` as they come (its last line is kept for the reason), no other descriptor.
// One command at a time per process: run_command() records the running command's process group
// for kill_running_command() (an atomic). The process must ignore SIGPIPE: a command that does
// not read its input closes the pipe under the writer.

#include <chrono>
#include <string>
#include <vector>

#include "plugins/command_trigger/command_settings.h"

namespace ballast::command_trigger {

inline constexpr size_t kMaxStderrLineBytes = 1024;

struct CommandRun {
  enum class Ending {
    kExited,      // status = its exit status
    kSignalled,   // status = the signal that ended it
    kTimedOut,    // still running at the deadline: its process group was sent SIGKILL
    kNotStarted,  // status = the errno of posix_spawnp (or of the pipes)
  };
  Ending ending = Ending::kNotStarted;
  int status = 0;
  // The last non-empty line it wrote to stderr, cut at kMaxStderrLineBytes; empty if none.
  std::string stderr_line;
};

// Runs `settings.argv` with `environment` ("NAME=value" strings) in settings.working_dir and
// waits for it to exit, at most settings.timeout (then kills its process group and reaps it).
// Blocks the calling thread meanwhile. Leaves no zombie; processes the command left behind in
// the background are its own business.
CommandRun run_command(const CommandSettings& settings, const std::string& input,
                       const std::vector<std::string>& environment, int forward_fd);

// Sends SIGKILL to the process group of the command run_command() is running, if any.
// Async-signal-safe: for a SIGTERM handler, so that a plug-in stopped by the broker (which
// signals only the plug-in's own process group) does not leave its command running.
void kill_running_command();

}  // namespace ballast::command_trigger

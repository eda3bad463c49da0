#pragma once
// Starts one plug-in process (docs/plugins.md, "Supervision"): its stdin, stdout and stderr are
// pipes to the broker; it runs in a new process group with RLIMIT_AS and RLIMIT_NOFILE set, an
// empty signal mask and the broker's environment. A pidfd reports its exit. When its config
// sets a cgroup_* key it also runs in a cgroup of its own with those limits (plugin_cgroup.h),
// joined before it executes, and removed once it has been reaped.
//
// Ownership: a PluginProcess owns the broker's ends of the pipes and the pidfd (each may be
// taken by the caller with release_*), the child until it is reaped and its cgroup until then. Destroying one
// whose child was not reaped kills the child's process group and reaps it (a bug guard, not the way to stop a
// plug-in: stop with terminate()/kill() and reap once the pidfd is readable). Not thread-safe: its supervisor
// serializes calls.

#include <sys/types.h>

#include <optional>
#include <string>

#include "plugins/plugin_cgroup.h"
#include "plugins/plugin_config.h"
#include "util/result.h"

namespace ballast::plugins {

// How a reaped process ended, as an operator reads it: "exited with status 3",
// "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

// argv[0] as the absolute path that will be executed: itself when it contains a '/', else the
// first executable match on PATH. Fails with PLUGIN_UNAVAILABLE naming the plug-in, the path,
// the broker's user and the fix when the file is missing or not executable by that user.
Result<std::string> resolve_executable(const PluginConfig& config);

class PluginProcess {
 public:
  // Forks and executes config.command. Fails with PLUGIN_UNAVAILABLE (R1: the plug-in, the
  // path, the user, the config key and the fix) when the executable is missing or cannot be
  // executed, or when pipes or the process cannot be created.
  // With a cgroup_* key set, it also fails so (the plug-in, the exact path, the errno text, the
  // key and the fix) when its cgroup cannot be created, limited or joined: it never runs
  // without a limit the configuration asks for.
  static Result<PluginProcess> start(const PluginConfig& config);
  // The same, with the cgroups of `cgroup_host` instead of this process's (tests).
  static Result<PluginProcess> start(const PluginConfig& config, const CgroupHost& cgroup_host);

  PluginProcess(PluginProcess&& other) noexcept;
  PluginProcess& operator=(PluginProcess&& other) = delete;
  PluginProcess(const PluginProcess&) = delete;
  ~PluginProcess();

  pid_t pid() const { return pid_; }
  // The descriptors, each -1 once released. The caller owns a released descriptor.
  int release_stdin() { return release(stdin_fd_); }
  int release_stdout() { return release(stdout_fd_); }
  int release_stderr() { return release(stderr_fd_); }
  int release_pidfd() { return release(pidfd_); }

  // Signals the whole process group (SIGTERM / SIGKILL). No effect once reaped.
  void terminate();
  void kill();

  // Reaps the child without blocking: its wait status once it has exited, nothing before.
  // Reaping removes its cgroup; a cgroup that cannot be removed is reported as the warn event
  // plugin.cgroup_left, and the plug-in's next start replaces it.
  std::optional<int> try_reap();
  bool reaped() const { return pid_ <= 0; }

 private:
  PluginProcess() = default;
  static int release(int& fd) {
    const int released = fd;
    fd = -1;
    return released;
  }
  void signal_group(int signal_number);
  void remove_cgroup();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int pidfd_ = -1;
  std::optional<PluginCgroup> cgroup_;
};

}  // namespace ballast::plugins

#include "plugins/plugin_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

#include "util/log.h"

extern char** environ;

namespace ballast::plugins {

namespace {

constexpr unsigned kCloseRangeCloexec = 1u << 2;  // CLOSE_RANGE_CLOEXEC (linux/close_range.h)

std::string user_name(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(4096);
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return fmt::format("{}", uid);
}

std::string group_name(gid_t gid) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(4096);
  if (getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->gr_name;
  }
  return fmt::format("{}", gid);
}

std::string broker_user() {
  const uid_t uid = geteuid();
  return fmt::format("{} (uid {})", user_name(uid), uid);
}

std::string table_of(const PluginConfig& config) {
  return fmt::format("the [[plugins]] table with name = \"{}\"", config.name);
}

Error unavailable(const PluginConfig& config, std::string message, std::string fix) {
  return Error(ErrorCode::kPluginUnavailable, fmt::format("plug-in \"{}\": {}", config.name, message),
               std::move(fix));
}

Error missing_executable(const PluginConfig& config, const std::string& path) {
  return unavailable(
      config,
      fmt::format("its executable {} (command[0]) does not exist, as seen by user {}", path, broker_user()),
      fmt::format("install the plug-in at {} or correct command in {}; the broker retries "
                  "the start with back-off",
                  path, table_of(config)));
}

// Checks that `path` is a regular file that this process may execute.
Status check_executable(const PluginConfig& config, const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return missing_executable(config, path);
    return unavailable(
        config,
        fmt::format("cannot inspect its executable {}: {} (user {})", path, strerrordesc_np(errno),
                    broker_user()),
        fmt::format("let user {} reach {} (search permission on each directory)", broker_user(), path));
  }
  if (!S_ISREG(info.st_mode)) {
    return unavailable(config, fmt::format("its executable {} (command[0]) is not a regular file", path),
                       fmt::format("point command[0] in {} at the plug-in's program", table_of(config)));
  }
  if (::access(path.c_str(), X_OK) != 0) {
    return unavailable(
        config,
        fmt::format("its executable {} is not executable by user {}: mode {:04o}, owner {}:{}", path,
                    broker_user(), info.st_mode & 07777, user_name(info.st_uid), group_name(info.st_gid)),
        fmt::format("chmod a+x {} (or run it through its interpreter, e.g. command = [\"/usr/bin/python3\", "
                    "\"{}\"] in {})",
                    path, path, table_of(config)));
  }
  return ok_status();
}

Result<std::string> search_path(const PluginConfig& config, const std::string& program) {
  const char* path_variable = std::getenv("PATH");
  const std::string search = path_variable != nullptr ? path_variable : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= search.size()) {
    const size_t colon = search.find(':', start);
    std::string directory =
        search.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (directory.empty()) directory = ".";
    const std::string candidate = std::filesystem::absolute(directory + "/" + program).string();
    if (check_executable(config, candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return unavailable(
      config,
      fmt::format("its executable \"{}\" (command[0]) was not found on PATH={} of user {}", program, search,
                  broker_user()),
      fmt::format("give command[0] as an absolute path in {} or install {}", table_of(config), program));
}

struct Pipe {
  int read_end = -1;
  int write_end = -1;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Result<Pipe> make_pipe(const PluginConfig& config) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return unavailable(config, fmt::format("cannot create a pipe: {}", strerrordesc_np(errno)),
                       "raise the broker's open-file limit (LimitNOFILE) or close descriptors; the broker "
                       "retries the start with back-off");
  }
  return Pipe{fds[0], fds[1]};
}

// What the child needs, prepared before fork so that the child only makes async-signal-safe calls.
struct ChildPlan {
  std::string path;
  std::vector<std::string> arguments;
  std::vector<char*> argv;
  rlimit memory{};
  rlimit files{};
  bool limit_memory = false;
  std::vector<const char*> cgroup_procs_files;
};

// What the child reports through the exec-error pipe when it cannot become the plug-in.
struct ChildFailure {
  int step = kExecStep;  // kExecStep, or the index of the cgroup.procs file it could not write
  int error_number = 0;
  static constexpr int kExecStep = -1;
};

[[noreturn]] void report_child_failure(const Pipe& exec_error, int step) {
  const ChildFailure failure{step, errno};
  ssize_t written = write(exec_error.write_end, &failure, sizeof failure);
  static_cast<void>(written);
  _exit(127);
}

// The child joins its cgroup itself, before exec, with open and write only (async-signal-safe
// after fork in a threaded process): the plug-in runs no instruction of its own outside its
// limits, and a failed join ends the child before exec, its errno reported like an exec
// failure. The parent writing the child's pid instead would need a second pipe to hold the
// child until then, and a kill when the write fails.
void join_cgroup(const ChildPlan& plan, const Pipe& exec_error) {
  for (size_t index = 0; index < plan.cgroup_procs_files.size(); ++index) {
    const int fd = open(plan.cgroup_procs_files[index], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) report_child_failure(exec_error, static_cast<int>(index));
    close(fd);
  }
}

[[noreturn]] void run_child(const ChildPlan& plan, const Pipe& in, const Pipe& out, const Pipe& err,
                            const Pipe& exec_error) {
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &default_action, nullptr);
  setpgid(0, 0);
  join_cgroup(plan, exec_error);
  if (plan.limit_memory) setrlimit(RLIMIT_AS, &plan.memory);
  setrlimit(RLIMIT_NOFILE, &plan.files);
  dup2(in.read_end, STDIN_FILENO);
  dup2(out.write_end, STDOUT_FILENO);
  dup2(err.write_end, STDERR_FILENO);
  syscall(SYS_close_range, 3u, ~0u, kCloseRangeCloexec);
  execve(plan.path.c_str(), plan.argv.data(), environ);
  report_child_failure(exec_error, ChildFailure::kExecStep);
}

}  // namespace

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    const char* abbreviation = sigabbrev_np(signal_number);
    return fmt::format("was killed by signal {} (SIG{})", signal_number,
                       abbreviation != nullptr ? abbreviation : "?");
  }
  return fmt::format("ended with wait status {}", status);
}

Result<std::string> resolve_executable(const PluginConfig& config) {
  if (config.command.empty() || config.command[0].empty()) {
    return unavailable(config, "its command is empty",
                       fmt::format("set command = [\"/path/to/plugin\", ...] in {}", table_of(config)));
  }
  const std::string& program = config.command[0];
  if (program.find('/') == std::string::npos) return search_path(config, program);
  const std::string path = std::filesystem::absolute(program).lexically_normal().string();
  if (auto checked = check_executable(config, path); !checked) return checked.error();
  return path;
}

Result<PluginProcess> PluginProcess::start(const PluginConfig& config) {
  return start(config, config.wants_cgroup() ? CgroupHost::of_this_process() : CgroupHost{});
}

Result<PluginProcess> PluginProcess::start(const PluginConfig& config, const CgroupHost& cgroup_host) {
  auto path = resolve_executable(config);
  if (!path) return path.error();
  PluginProcess process;
  if (config.wants_cgroup()) {
    auto cgroup = PluginCgroup::create(config, cgroup_host);
    if (!cgroup) return cgroup.error();
    process.cgroup_ = std::move(*cgroup);
  }
  ChildPlan plan;
  plan.path = *path;
  plan.arguments = config.command;
  for (std::string& argument : plan.arguments) plan.argv.push_back(argument.data());
  plan.argv.push_back(nullptr);
  plan.limit_memory = config.max_memory_bytes > 0;
  plan.memory.rlim_cur = plan.memory.rlim_max = config.max_memory_bytes;
  plan.files.rlim_cur = plan.files.rlim_max = config.max_open_files;
  if (process.cgroup_) {
    for (const std::string& file : process.cgroup_->procs_files())
      plan.cgroup_procs_files.push_back(file.c_str());
  }

  Pipe pipes[4];
  for (Pipe& pipe : pipes) {
    auto made = make_pipe(config);
    if (!made) {
      for (Pipe& opened : pipes) close_fd(opened.read_end), close_fd(opened.write_end);
      return made.error();
    }
    pipe = *made;
  }
  auto& [in, out, err, exec_error] = pipes;
  const pid_t pid = ::fork();
  if (pid == 0) run_child(plan, in, out, err, exec_error);
  const int fork_errno = errno;
  close_fd(in.read_end), close_fd(out.write_end), close_fd(err.write_end), close_fd(exec_error.write_end);
  process.stdin_fd_ = in.write_end;
  process.stdout_fd_ = out.read_end;
  process.stderr_fd_ = err.read_end;
  if (pid < 0) {
    close_fd(exec_error.read_end);
    return unavailable(
        config, fmt::format("cannot start a process: fork failed: {}", strerrordesc_np(fork_errno)),
        "raise the broker's process limit (LimitNPROC, RLIMIT_NPROC) or free memory; the broker "
        "retries the start with back-off");
  }
  process.pid_ = pid;
  ::setpgid(pid, pid);  // also here, so that the group exists before either side signals it
  ChildFailure failure;
  ssize_t got = 0;
  do {
    got = ::read(exec_error.read_end, &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  close_fd(exec_error.read_end);
  if (got == sizeof failure && failure.step != ChildFailure::kExecStep) {
    return process.cgroup_->join_failed(config, static_cast<size_t>(failure.step), failure.error_number);
  }
  if (got == sizeof failure) {
    return unavailable(
        config,
        fmt::format("cannot execute {} as user {}: {}", plan.path, broker_user(),
                    strerrordesc_np(failure.error_number)),
        fmt::format("make {} a program user {} can run (an interpreter script needs a valid #! "
                    "line), or correct command in {}",
                    plan.path, broker_user(), table_of(config)));
  }
  process.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (process.pidfd_ < 0) {
    return unavailable(config, fmt::format("pidfd_open failed: {}", strerrordesc_np(errno)),
                       "run the broker on Linux 5.3 or later with descriptors to spare");
  }
  return process;
}

PluginProcess::PluginProcess(PluginProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdin_fd_(std::exchange(other.stdin_fd_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      stderr_fd_(std::exchange(other.stderr_fd_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      cgroup_(std::exchange(other.cgroup_, std::nullopt)) {}

PluginProcess::~PluginProcess() {
  if (pid_ > 0) {
    signal_group(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  remove_cgroup();
  for (int* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_, &pidfd_}) close_fd(*fd);
}

void PluginProcess::signal_group(int signal_number) {
  if (pid_ <= 0) return;
  // The child made itself a group leader; before it has, its pid is not yet a group.
  if (::kill(-pid_, signal_number) != 0) ::kill(pid_, signal_number);
}

void PluginProcess::terminate() {
  signal_group(SIGTERM);
}

void PluginProcess::kill() {
  signal_group(SIGKILL);
}

std::optional<int> PluginProcess::try_reap() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t reaped = 0;
  do {
    reaped = ::waitpid(pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped != pid_) return std::nullopt;
  pid_ = -1;
  remove_cgroup();
  return status;
}

void PluginProcess::remove_cgroup() {
  if (!cgroup_) return;
  if (Status removed = cgroup_->remove(); !removed) {
    log::event(log::Level::kWarn, "plugin.cgroup_left",
               {log::kv("plugin", cgroup_->plugin_name()), log::kv("code", removed.error().code_name()),
                log::kv("cause", removed.error().message()), log::kv("fix", removed.error().fix())});
  }
  cgroup_.reset();
}

}  // namespace ballast::plugins

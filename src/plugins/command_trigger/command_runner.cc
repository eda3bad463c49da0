#include "plugins/command_trigger/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string_view>

namespace ballast::command_trigger {

namespace {

using Clock = std::chrono::steady_clock;

// The process group of the command being run (0: none), for kill_running_command().
std::atomic<pid_t> running_group{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "read from a signal handler");

constexpr size_t kReadChunkBytes = 64 * 1024;
// Reads of what is left in the stderr pipe once the command has ended (its background
// processes may keep writing: the drain is bounded).
constexpr int kDrainReads = 16;

// A descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes the descriptor held, then holds `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct Pipe {
  Fd read;
  Fd write;
};

// The last non-empty line of a byte stream fed in pieces, cut at kMaxStderrLineBytes.
class LineTail {
 public:
  void feed(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n') {
        finish();
      } else if (c != '\r' && current_.size() < kMaxStderrLineBytes) {
        current_ += c;
      }
    }
  }
  std::string last() {
    finish();
    return last_;
  }

 private:
  void finish() {
    if (!current_.empty()) last_ = std::move(current_);
    current_.clear();
  }
  std::string current_;
  std::string last_;
};

bool open_pipe(Pipe& pipe, int& error) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = errno;
    return false;
  }
  pipe.read.reset(fds[0]);
  pipe.write.reset(fds[1]);
  return true;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// Starts the command with fds 0, 1, 2 as given and nothing else open; its pid, or -1 with `error`.
pid_t spawn(const CommandSettings& settings, const std::vector<std::string>& environment, int stdin_fd,
            int stdout_fd, int stderr_fd, int& error) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  if (!settings.working_dir.empty())
    posix_spawn_file_actions_addchdir_np(&actions, settings.working_dir.c_str());
  sigset_t empty;
  sigset_t all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &all);
  std::vector<char*> argv = c_strings(settings.argv);
  std::vector<char*> envp = c_strings(environment);
  pid_t pid = -1;
  error = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t wrote = ::write(fd, bytes.data(), bytes.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return;  // our own stderr is gone: nothing left to tell it
    bytes.remove_prefix(static_cast<size_t>(wrote));
  }
}

enum class Read { kData, kEmpty, kEnd };

// Copies what the stderr pipe holds to `forward_fd`; kEnd at its end (or on an error).
Read copy_stderr(const Fd& error_fd, int forward_fd, LineTail& tail) {
  char buffer[kReadChunkBytes];
  const ssize_t got = ::read(error_fd.get(), buffer, sizeof buffer);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return Read::kEmpty;
  if (got <= 0) return Read::kEnd;
  const std::string_view bytes(buffer, static_cast<size_t>(got));
  write_all(forward_fd, bytes);
  tail.feed(bytes);
  return Read::kData;
}

// Writes the next piece of the input; closes the pipe once all is written or the command
// closed its end (a command need not read its input).
void feed_input(Fd& input_fd, std::string_view input, size_t& written) {
  const ssize_t wrote = ::write(input_fd.get(), input.data() + written, input.size() - written);
  if (wrote > 0) written += static_cast<size_t>(wrote);
  const bool retry = wrote < 0 && (errno == EAGAIN || errno == EINTR);
  if (written == input.size() || (wrote < 0 && !retry)) input_fd.reset();
}

// Feeds the input and copies stderr until the command exits (true) or the deadline (false).
bool wait_for_exit(int pidfd, Fd& input_fd, Fd& error_fd, std::string_view input, int forward_fd,
                   LineTail& tail, Clock::time_point deadline) {
  size_t written = 0;
  if (input.empty()) input_fd.reset();
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[3] = {{pidfd, POLLIN, 0}, {error_fd.get(), POLLIN, 0}, {input_fd.get(), POLLOUT, 0}};
    const int ready = ::poll(fds, 3, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    if (fds[1].revents != 0 && copy_stderr(error_fd, forward_fd, tail) == Read::kEnd) error_fd.reset();
    if (fds[2].revents != 0) feed_input(input_fd, input, written);
    if (fds[0].revents != 0) return true;
  }
}

void drain_stderr(const Fd& error_fd, int forward_fd, LineTail& tail) {
  if (error_fd.get() < 0) return;
  for (int reads = 0; reads < kDrainReads; ++reads) {
    if (copy_stderr(error_fd, forward_fd, tail) != Read::kData) return;
  }
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

void kill_running_command() {
  const pid_t group = running_group.load();
  if (group > 0) ::kill(-group, SIGKILL);
}

CommandRun run_command(const CommandSettings& settings, const std::string& input,
                       const std::vector<std::string>& environment, int forward_fd) {
  CommandRun run;
  Pipe input_pipe;
  Pipe error_pipe;
  if (!open_pipe(input_pipe, run.status) || !open_pipe(error_pipe, run.status)) return run;
  const pid_t pid =
      spawn(settings, environment, input_pipe.read.get(), forward_fd, error_pipe.write.get(), run.status);
  input_pipe.read.reset();
  error_pipe.write.reset();
  if (pid < 0) return run;
  running_group.store(pid);
  const Clock::time_point deadline = Clock::now() + settings.timeout;
  // Without a pidfd (Linux before 5.3) the command cannot be watched: it is killed as if late.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  set_nonblocking(input_pipe.write.get());
  set_nonblocking(error_pipe.read.get());
  LineTail tail;
  const bool exited = pidfd.get() >= 0 && wait_for_exit(pidfd.get(), input_pipe.write, error_pipe.read, input,
                                                        forward_fd, tail, deadline);
  if (!exited) ::kill(-pid, SIGKILL);
  // Cleared before the reap: until then the zombie keeps the pid and its group from reuse.
  running_group.store(0);
  const int status = reap(pid);
  drain_stderr(error_pipe.read, forward_fd, tail);
  run.stderr_line = tail.last();
  if (!exited) {
    run.ending = CommandRun::Ending::kTimedOut;
  } else if (WIFEXITED(status)) {
    run.ending = CommandRun::Ending::kExited;
    run.status = WEXITSTATUS(status);
  } else {
    run.ending = CommandRun::Ending::kSignalled;
    run.status = WTERMSIG(status);
  }
  return run;
}

}  // namespace ballast::command_trigger

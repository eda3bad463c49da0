#include "plugins/handshake_probe.h"

#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>

#include "plugins/frame_codec.h"
#include "plugins/plugin_process.h"
#include "plugins/protocol_frames.h"

namespace ballast::plugins {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptors and kills and reaps the probed process, whatever the outcome.
class Probe {
 public:
  explicit Probe(PluginProcess process)
      : process_(std::move(process)),
        input_(process_.release_stdin()),
        output_(process_.release_stdout()),
        errors_(process_.release_stderr()),
        exit_(process_.release_pidfd()) {}
  ~Probe() {
    for (int fd : {input_, output_, errors_, exit_}) {
      if (fd >= 0) ::close(fd);
    }
    process_.kill();
    for (int tries = 0; tries < 200 && !process_.try_reap(); ++tries) ::usleep(5000);
  }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  bool write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t written = ::write(input_, bytes.data(), bytes.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(written));
    }
    return true;
  }

  // Reads until a whole frame arrives, the output ends or the deadline passes.
  Result<nlohmann::json> read_frame(const PluginConfig& config, Clock::time_point deadline) {
    FrameDecoder decoder;
    char buffer[65536];
    for (;;) {
      auto frame = decoder.next();
      if (!frame) return failure(config, fmt::format("broke the protocol: {}", frame.error().message()));
      if (*frame) return std::move(**frame);
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return failure(config, fmt::format("did not answer the hello within handshake_timeout_ms = {} ms",
                                           config.handshake_timeout_ms));
      }
      pollfd readable{output_, POLLIN, 0};
      const int ready = ::poll(&readable, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;  // the deadline is checked above
      const ssize_t bytes = ::read(output_, buffer, sizeof buffer);
      if (bytes < 0 && errno == EINTR) continue;
      if (bytes <= 0)
        return failure(config, fmt::format("closed its output before its hello{}", last_words()));
      decoder.feed(std::string_view(buffer, static_cast<size_t>(bytes)));
    }
  }

  static Error failure(const PluginConfig& config, std::string what) {
    return Error(ErrorCode::kPluginUnavailable, fmt::format("plug-in \"{}\" {}", config.name, what),
                 fmt::format("run its command by hand ({}) and make it answer the hello frame "
                             "(docs/plugins.md, \"Handshake\")",
                             fmt::join(config.command, " ")));
  }

  // The end of what it wrote to stderr, if anything (without blocking).
  std::string last_words() {
    std::string text;
    char buffer[4096];
    pollfd readable{errors_, POLLIN, 0};
    for (int reads = 0; reads < 16 && ::poll(&readable, 1, 50) > 0; ++reads) {
      const ssize_t bytes = ::read(errors_, buffer, sizeof buffer);
      if (bytes <= 0) break;
      text.append(buffer, static_cast<size_t>(bytes));
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const size_t line = text.rfind('\n');
    if (line != std::string::npos) text.erase(0, line + 1);
    if (text.size() > 300) text = "..." + text.substr(text.size() - 300);
    return text.empty() ? std::string() : fmt::format("; its stderr said: {}", text);
  }

 private:
  PluginProcess process_;
  int input_;
  int output_;
  int errors_;
  int exit_;
};

}  // namespace

Result<std::string> probe_handshake(const PluginConfig& config, std::string_view broker_version) {
  // Without its cgroup: the doctor's cgroup is not the broker's, and a cgroup of the plug-in's
  // name may be in use by a running broker's process of it.
  PluginConfig probed = config;
  probed.cgroup_memory_max_bytes = 0;
  probed.cgroup_pids_max = 0;
  probed.cgroup_cpu_max_percent = 0;
  auto process = PluginProcess::start(probed);
  if (!process) return std::move(process).error();
  Probe probe(std::move(*process));
  const auto deadline = Clock::now() + std::chrono::milliseconds(config.handshake_timeout_ms);
  if (!probe.write_all(encode_frame(hello_frame(config, broker_version)))) {
    return Probe::failure(
        config, fmt::format("closed its input before it read the hello frame{}", probe.last_words()));
  }
  auto frame = probe.read_frame(config, deadline);
  if (!frame) return std::move(frame).error();
  const auto type = frame->find("type");
  if (type == frame->end() || !type->is_string() || *type != "hello") {
    return Probe::failure(config, "answered the hello with a frame that is not a hello");
  }
  auto version = check_hello(*frame, config);
  if (!version)
    return Probe::failure(config, fmt::format("failed its handshake: {}", version.error().message()));
  return version;
}

}  // namespace ballast::plugins

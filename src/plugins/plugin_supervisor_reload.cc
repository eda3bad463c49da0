// PluginSupervisor: reload beside the running process, draining the replaced one, disable and
// enable, and watching the command's files (docs/plugins.md, "Run-time changes").
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>

#include "plugins/plugin_incarnation.h"
#include "plugins/plugin_supervisor.h"
#include "plugins/protocol_frames.h"
#include "util/log.h"

namespace ballast::plugins {

namespace {

// How long after a switch the replaced process may still answer, beyond the calls' deadline.
constexpr int64_t kDrainSlackMs = 100;

}  // namespace

void PluginSupervisor::reload(std::string cause, ReloadCallback done) {
  if (state_ == State::kStopping || state_ == State::kStopped) {
    return done(Error(ErrorCode::kShuttingDown,
                      fmt::format("plug-in \"{}\" is stopping: the broker is shutting down", config_.name),
                      "reload it after the broker has started again"));
  }
  if (state_ == State::kDisabled) {
    return done(
        Error(ErrorCode::kPluginUnavailable, fmt::format("plug-in \"{}\" is disabled", config_.name),
              fmt::format("'ballast plugin enable {}' starts it, with its command as it is on disk now",
                          config_.name)));
  }
  reload_waiters_.push_back(std::move(done));
  log::event(log::Level::kInfo, "plugin.reloading",
             {log::kv("plugin", config_.name), log::kv("cause", cause),
              log::kv("pid", current_ ? current_->pid : 0)});
  if (state_ == State::kReady) {
    if (!candidate_) start_candidate(std::move(cause));
    return;
  }
  // Starting: its hello or its failure answers. Down: started at once, with a fresh back-off.
  if (state_ == State::kStarting || state_ == State::kIdle) return;
  restart_timer_.cancel();
  failed_in_a_row_ = 0;
  backoff_ms_ = config_.timings.backoff_initial_ms;
  start_process();
}

void PluginSupervisor::start_candidate(std::string cause) {
  auto started = start_incarnation();
  if (!started) {
    return reload_failed(fmt::format("the new process could not be started: {}", started.error().message()),
                         started.error().fix());
  }
  candidate_ = std::move(*started);
  const uint64_t generation = candidate_->generation;
  read_frames(generation);
  read_stderr(generation);
  wait_exit(generation);
  send_to(*candidate_, encode_frame(hello_frame(config_, broker_version_)));
  candidate_timer_.expires_after(std::chrono::milliseconds(config_.handshake_timeout_ms));
  candidate_timer_.async_wait([this, generation, cause](const boost::system::error_code& error) {
    if (error || !is_candidate(generation)) return;
    reload_failed(fmt::format("the new process did not answer the hello within handshake_timeout_ms = {} ms "
                              "(reload cause: {})",
                              config_.handshake_timeout_ms, cause),
                  fmt::format("make the new version answer the hello frame (docs/plugins.md, \"Handshake\") "
                              "or raise handshake_timeout_ms in the [[plugins]] table with name = \"{}\"",
                              config_.name));
  });
}

void PluginSupervisor::on_candidate_frame(const nlohmann::json& frame) {
  const std::string type = frame["type"].get<std::string>();
  if (type != "hello") {
    return reload_failed(
        fmt::format("the new process broke the protocol: its first frame has type \"{}\", not \"hello\"",
                    type),
        "");
  }
  auto version = check_hello(frame, config_);
  if (!version) {
    return reload_failed(fmt::format("the new process failed its handshake: {}", version.error().message()),
                         version.error().fix());
  }
  switch_to_candidate(*version);
}

void PluginSupervisor::switch_to_candidate(std::string version) {
  candidate_timer_.cancel();
  const int old_pid = current_->pid;
  const uint64_t old_generation = current_->generation;
  draining_.push_back(std::move(current_));
  current_ = std::move(candidate_);
  version_ = std::move(version);
  ++reloads_;
  // A ping in flight was the replaced process's; the new one is pinged from now on.
  ping_id_.reset();
  pong_timer_.cancel();
  schedule_ping();
  publish_snapshot();
  log::event(
      log::Level::kInfo, "plugin.reloaded",
      {log::kv("plugin", config_.name), log::kv("old_pid", old_pid), log::kv("pid", current_->pid),
       log::kv("version", version_), log::kv("startup_ms", clock_.monotonic_ms() - current_->started_at_ms)});
  // Every call it holds is answered by then, by it or by its deadline.
  Incarnation& replaced = *draining_.back();
  replaced.drain_timer.expires_after(std::chrono::milliseconds(config_.call_timeout_ms + kDrainSlackMs));
  replaced.drain_timer.async_wait([this, old_generation](const boost::system::error_code& error) {
    if (!error) end_drain(old_generation, "the process replaced by a reload did not answer in time");
  });
  finish_drain_if_done(old_generation);
  answer_reloads(ok_status());
}

void PluginSupervisor::reload_failed(std::string cause, std::string fix) {
  candidate_timer_.cancel();
  const int pid = candidate_ ? candidate_->pid : 0;
  if (candidate_) {
    candidate_->process.kill();
    candidate_->close_pipes();
    dying_.push_back(std::move(candidate_));
  }
  if (fix.empty())
    fix = fmt::format("see the plugin.stderr events of \"{}\" for its own account", config_.name);
  const bool serving = state_ == State::kReady && current_;
  const std::string outcome = serving ? fmt::format("the running process {} keeps serving", current_->pid)
                                      : std::string("it is restarting");
  log::event(log::Level::kError, "plugin.reload_failed",
             {log::kv("plugin", config_.name), log::kv("pid", pid), log::kv("code", "PLUGIN_UNAVAILABLE"),
              log::kv("cause", cause), log::kv("outcome", outcome), log::kv("fix", fix)});
  answer_reloads(Error(ErrorCode::kPluginUnavailable,
                       fmt::format("plug-in \"{}\" was not reloaded: {}; {}", config_.name, cause, outcome),
                       fix));
}

void PluginSupervisor::answer_reloads(const Status& status) {
  // Taken out first: a callback may reload again.
  for (auto& done : std::exchange(reload_waiters_, {})) done(status);
}

void PluginSupervisor::on_draining_frame(uint64_t generation, const nlohmann::json& frame) {
  const std::string type = frame["type"].get<std::string>();
  if (type == "verdict") return on_verdict(generation, frame);
  if (type == "outcome") return on_outcome(generation, frame);
  if (type == "pong") return;  // a ping sent before the switch
  protocol_error(generation, fmt::format("broke the protocol: a frame of unexpected type \"{}\"", type), "");
}

void PluginSupervisor::finish_drain_if_done(uint64_t generation) {
  if (!is_draining(generation)) return;
  for (const auto& [id, call] : calls_) {
    if (call.generation == generation) return;
  }
  end_drain(generation, "");
}

void PluginSupervisor::end_drain(uint64_t generation, std::string_view why) {
  auto found = std::find_if(draining_.begin(), draining_.end(), [generation](const auto& draining) {
    return draining->generation == generation;
  });
  if (found == draining_.end()) return;
  std::unique_ptr<Incarnation> drained = std::move(*found);
  draining_.erase(found);
  drained->drain_timer.cancel();
  retire_gracefully(std::move(drained));
  answer_calls_of(generation, why,
                  "make the plug-in answer its calls before it exits at the end of its input");
}

bool PluginSupervisor::is_candidate(uint64_t generation) const {
  return candidate_ && candidate_->generation == generation;
}

bool PluginSupervisor::is_draining(uint64_t generation) const {
  return std::any_of(draining_.begin(), draining_.end(),
                     [generation](const auto& draining) { return draining->generation == generation; });
}

void PluginSupervisor::disable() {
  if (state_ == State::kDisabled || state_ == State::kStopping || state_ == State::kStopped) return;
  for (auto* timer : {&handshake_timer_, &ping_timer_, &pong_timer_, &restart_timer_, &candidate_timer_}) {
    timer->cancel();
  }
  ready_.store(false, std::memory_order_release);
  ping_id_.reset();
  for (auto* incarnation : {&current_, &candidate_}) {
    if (*incarnation) retire_gracefully(std::move(*incarnation));
  }
  for (auto& draining : std::exchange(draining_, {})) retire_gracefully(std::move(draining));
  enter(State::kDisabled);
  log::event(log::Level::kWarn, "plugin.disabled",
             {log::kv("plugin", config_.name), log::kv("code", "PLUGIN_UNAVAILABLE"),
              log::kv("cause", "operator (ballast plugin disable)"),
              log::kv("fix", fmt::format("'ballast plugin enable {}' starts it again", config_.name))});
  answer_all_with_policy(down_reason(), fmt::format("'ballast plugin enable {}'", config_.name));
  answer_reloads(Error(ErrorCode::kPluginUnavailable,
                       fmt::format("plug-in \"{}\" was disabled", config_.name),
                       fmt::format("'ballast plugin enable {}' starts it", config_.name)));
}

void PluginSupervisor::enable() {
  if (state_ != State::kDisabled) return;
  failed_in_a_row_ = 0;
  backoff_ms_ = config_.timings.backoff_initial_ms;
  last_cause_.clear();
  log::event(log::Level::kInfo, "plugin.enabled",
             {log::kv("plugin", config_.name), log::kv("cause", "operator (ballast plugin enable)")});
  start_process();
}

std::map<std::string, PluginSupervisor::FileStamp> PluginSupervisor::watched_files() const {
  std::vector<std::string> paths;
  if (auto executable = resolve_executable(config_)) paths.push_back(*executable);
  // A script's interpreter rarely changes; the script, named by an absolute path, does.
  for (size_t i = 1; i < config_.command.size(); ++i) {
    if (config_.command[i].starts_with('/')) paths.push_back(config_.command[i]);
  }
  std::map<std::string, FileStamp> stamps;
  for (const std::string& path : paths) {
    struct stat status {};
    FileStamp& stamp = stamps[path];  // missing: all zero
    if (::stat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode)) continue;
    stamp.mtime_ns = static_cast<int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec;
    stamp.size = static_cast<uint64_t>(status.st_size);
    stamp.inode = static_cast<uint64_t>(status.st_ino);
  }
  return stamps;
}

void PluginSupervisor::schedule_watch() {
  watch_timer_.expires_after(std::chrono::milliseconds(config_.watch_interval_ms));
  watch_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || state_ == State::kStopping || state_ == State::kStopped) return;
    auto now = watched_files();
    if (now != watched_) {
      // Reloaded once it has stayed the same for one interval: a copy in progress is not run.
      watched_ = std::move(now);
      watched_changed_ = true;
    } else if (watched_changed_) {
      watched_changed_ = false;
      if (state_ != State::kDisabled) reload("its command's files changed on disk", [](const Status&) {});
    }
    schedule_watch();
  });
}

}  // namespace ballast::plugins

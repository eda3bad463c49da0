#include "plugins/plugin_supervisor.h"

#include <fmt/format.h>

#include <algorithm>

#include "plugins/plugin_incarnation.h"
#include "plugins/protocol_frames.h"
#include "util/log.h"

namespace ballast::plugins {

namespace {

struct FailureEvent {
  std::string_view name;
  log::Level level;
};

}  // namespace

PluginSupervisor::PluginSupervisor(boost::asio::io_context& io, PluginConfig config, const Clock& clock,
                                   std::string broker_version)
    : io_(io),
      config_(std::move(config)),
      clock_(clock),
      broker_version_(std::move(broker_version)),
      backoff_ms_(config_.timings.backoff_initial_ms),
      handshake_timer_(io),
      ping_timer_(io),
      pong_timer_(io),
      restart_timer_(io),
      kill_timer_(io),
      candidate_timer_(io),
      watch_timer_(io) {
  snapshot_.since_unix_ms = clock_.wall_ms();
}

PluginSupervisor::~PluginSupervisor() = default;

void PluginSupervisor::start(bool disabled) {
  BALLAST_CHECK(state_ == State::kIdle, "plug-in {} started twice", config_.name);
  if (config_.watch) {
    watched_ = watched_files();
    schedule_watch();
  }
  if (disabled) {
    enter(State::kDisabled);
    log::event(
        log::Level::kWarn, "plugin.disabled",
        {log::kv("plugin", config_.name), log::kv("code", "PLUGIN_UNAVAILABLE"),
         log::kv("cause", "disabled at run time before this start (stored in the journal); not started"),
         log::kv("fix", fmt::format("'ballast plugin enable {}' starts it", config_.name))});
    return;
  }
  start_process();
}

void PluginSupervisor::enter(State state) {
  state_ = state;
  publish_snapshot();
}

void PluginSupervisor::publish_snapshot() {
  static constexpr std::string_view kStateNames[] = {"starting", "starting", "ready",  "restarting",
                                                     "disabled", "stopped",  "stopped"};
  std::string_view name = kStateNames[static_cast<size_t>(state_)];
  if (state_ == State::kWaiting && failed_in_a_row_ >= config_.timings.circuit_failures)
    name = "circuit-open";
  std::lock_guard lock(snapshot_mu_);
  if (snapshot_.state != name) snapshot_.since_unix_ms = clock_.wall_ms();
  snapshot_.state = name;
  snapshot_.reason = state_ == State::kReady ? std::string() : down_reason();
  snapshot_.pid = current_ ? current_->pid : 0;
  snapshot_.version = state_ == State::kReady ? version_ : std::string();
  snapshot_.restarts = restarts_;
  snapshot_.reloads = reloads_;
  snapshot_.failures_in_a_row = failed_in_a_row_;
}

PluginSupervisor::Snapshot PluginSupervisor::snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

Result<std::unique_ptr<PluginSupervisor::Incarnation>> PluginSupervisor::start_incarnation() {
  auto process = PluginProcess::start(config_);
  if (!process) return std::move(process).error();
  auto incarnation =
      std::make_unique<Incarnation>(io_, std::move(*process), ++generation_, clock_.monotonic_ms());
  log::event(log::Level::kInfo, "plugin.started",
             {log::kv("plugin", config_.name), log::kv("pid", incarnation->pid),
              log::kv("command", fmt::format("{}", fmt::join(config_.command, " ")))});
  return incarnation;
}

void PluginSupervisor::start_process() {
  if (started_before_) ++restarts_;
  started_before_ = true;
  auto started = start_incarnation();
  if (!started) {
    // The error names the plug-in first; the event and the cause already do.
    std::string_view detail = started.error().message();
    const std::string prefix = fmt::format("plug-in \"{}\": ", config_.name);
    if (detail.starts_with(prefix)) detail.remove_prefix(prefix.size());
    enter(State::kStarting);
    fail(Failure::kStartFailed, fmt::format("could not be started: {}", detail), started.error().fix());
    return;
  }
  current_ = std::move(*started);
  enter(State::kStarting);
  const uint64_t generation = current_->generation;
  read_frames(generation);
  read_stderr(generation);
  wait_exit(generation);
  send(hello_frame(config_, broker_version_));
  handshake_timer_.expires_after(std::chrono::milliseconds(config_.handshake_timeout_ms));
  handshake_timer_.async_wait([this, generation](const boost::system::error_code& error) {
    if (error || !is_current(generation) || state_ != State::kStarting) return;
    fail(Failure::kHandshakeFailed,
         fmt::format("did not answer the hello within handshake_timeout_ms = {} ms",
                     config_.handshake_timeout_ms),
         fmt::format("make the plug-in answer the hello frame (docs/plugins.md, \"Handshake\") or raise "
                     "handshake_timeout_ms in the [[plugins]] table with name = \"{}\"",
                     config_.name));
  });
}

void PluginSupervisor::fail(Failure failure, std::string cause, std::string fix) {
  static constexpr FailureEvent kEvents[] = {
      {"plugin.start_failed", log::Level::kError},   {"plugin.handshake_failed", log::Level::kError},
      {"plugin.exited", log::Level::kWarn},          {"plugin.hung", log::Level::kWarn},
      {"plugin.protocol_error", log::Level::kError},
  };
  const FailureEvent& event = kEvents[static_cast<size_t>(failure)];
  if (fix.empty())
    fix = fmt::format("see the plugin.stderr events of \"{}\" for its own account", config_.name);
  log::event(event.level, event.name,
             {log::kv("plugin", config_.name), log::kv("pid", current_ ? current_->pid : 0),
              log::kv("code", "PLUGIN_UNAVAILABLE"), log::kv("cause", cause), log::kv("fix", fix)});
  const int64_t ran_ms = current_ ? clock_.monotonic_ms() - current_->started_at_ms : 0;
  const uint64_t failed = current_ ? current_->generation : 0;
  last_cause_ = std::move(cause);
  ready_.store(false, std::memory_order_release);
  retire_current();
  for (auto* timer : {&handshake_timer_, &ping_timer_, &pong_timer_}) timer->cancel();
  ping_id_.reset();
  if (candidate_) {
    reload_failed(fmt::format("the running process {} while the new one was starting", last_cause_),
                  "reload again once it runs");
  }
  state_ = State::kWaiting;
  schedule_restart(ran_ms);
  publish_snapshot();
  // Only its own calls: a process draining after a reload answers its own.
  answer_calls_of(failed, down_reason(), "fix the plug-in so that it starts and stays up");
  answer_reloads(Error(ErrorCode::kPluginUnavailable,
                       fmt::format("plug-in \"{}\" {}", config_.name, down_reason()), fix));
}

void PluginSupervisor::schedule_restart(int64_t ran_ms) {
  const SupervisionTimings& timings = config_.timings;
  if (ran_ms >= timings.stable_after_ms) {
    failed_in_a_row_ = 0;
    backoff_ms_ = timings.backoff_initial_ms;
  } else {
    ++failed_in_a_row_;
  }
  uint32_t delay_ms = backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, timings.backoff_max_ms);
  if (failed_in_a_row_ >= timings.circuit_failures) {
    delay_ms = timings.circuit_open_ms;
    log::event(
        log::Level::kError, "plugin.circuit_open",
        {log::kv("plugin", config_.name), log::kv("code", "PLUGIN_UNAVAILABLE"),
         log::kv("failures_in_a_row", failed_in_a_row_), log::kv("cause", last_cause_),
         log::kv("retry_in_ms", delay_ms),
         log::kv("fix", fmt::format("find why \"{}\" fails in its plugin.* and plugin.stderr events and fix "
                                    "it or its [[plugins]] table; one start is tried after retry_in_ms",
                                    config_.name))});
  }
  restart_at_ms_ = clock_.monotonic_ms() + delay_ms;
  log::event(log::Level::kWarn, "plugin.restarting",
             {log::kv("plugin", config_.name), log::kv("cause", last_cause_), log::kv("delay_ms", delay_ms),
              log::kv("failures_in_a_row", failed_in_a_row_)});
  restart_timer_.expires_after(std::chrono::milliseconds(delay_ms));
  restart_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || state_ != State::kWaiting) return;
    start_process();
  });
}

void PluginSupervisor::retire_current() {
  // SIGTERM first: a plug-in may have work of its own to end (a command-trigger's command).
  if (current_) retire_gracefully(std::move(current_));
}

void PluginSupervisor::retire_gracefully(std::unique_ptr<Incarnation> incarnation) {
  incarnation->close_pipes();  // EOF on its stdin: a well-behaved plug-in exits by itself
  incarnation->process.terminate();
  incarnation->grace_timer.expires_after(std::chrono::milliseconds(config_.timings.stop_grace_ms));
  incarnation->grace_timer.async_wait(
      [this, generation = incarnation->generation](const boost::system::error_code& error) {
        if (error) return;
        if (Incarnation* dying = find_incarnation(generation)) dying->process.kill();
      });
  dying_.push_back(std::move(incarnation));
}

void PluginSupervisor::on_exit(uint64_t generation) {
  Incarnation* exited = find_incarnation(generation);
  if (exited == nullptr) return;
  const std::optional<int> status = exited->process.try_reap();
  if (!status) return wait_exit(generation);
  drain_stderr(*exited);
  if (is_current(generation)) {
    fail(Failure::kExited, describe_wait_status(*status),
         fmt::format("see the plugin.stderr events of \"{}\" for why it exited", config_.name));
  } else if (is_candidate(generation)) {
    reload_failed(fmt::format("the new process {} before its hello", describe_wait_status(*status)),
                  fmt::format("see the plugin.stderr events of \"{}\" for why it exited", config_.name));
  } else if (is_draining(generation)) {
    end_drain(generation, fmt::format("the process replaced by a reload {} before it answered",
                                      describe_wait_status(*status)));
  }
  std::erase_if(dying_, [generation](const auto& dying) { return dying->generation == generation; });
  finish_stop_if_done();
}

void PluginSupervisor::stop(std::function<void()> stopped) {
  stopped_ = std::move(stopped);
  enter(State::kStopping);
  ready_.store(false, std::memory_order_release);
  for (auto* timer :
       {&handshake_timer_, &ping_timer_, &pong_timer_, &restart_timer_, &candidate_timer_, &watch_timer_}) {
    timer->cancel();
  }
  answer_all_with_policy(down_reason(), "start the broker again");
  answer_reloads(Error(ErrorCode::kShuttingDown,
                       fmt::format("plug-in \"{}\" is stopping: the broker is shutting down", config_.name),
                       "reload it after the broker has started again"));
  for (auto* incarnation : {&current_, &candidate_}) {
    if (*incarnation) dying_.push_back(std::move(*incarnation));
  }
  for (auto& draining : std::exchange(draining_, {})) dying_.push_back(std::move(draining));
  for (auto& dying : dying_) {
    dying->close_pipes();
    dying->process.terminate();
  }
  if (!dying_.empty()) {
    kill_timer_.expires_after(std::chrono::milliseconds(config_.timings.stop_grace_ms));
    kill_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      for (auto& dying : dying_) dying->process.kill();
    });
  }
  finish_stop_if_done();
}

void PluginSupervisor::finish_stop_if_done() {
  if (state_ != State::kStopping || current_ || !dying_.empty()) return;
  enter(State::kStopped);
  kill_timer_.cancel();
  log::event(log::Level::kInfo, "plugin.stopped", {log::kv("plugin", config_.name)});
  if (auto stopped = std::move(stopped_)) stopped();
}

std::string PluginSupervisor::down_reason() const {
  const int64_t next_in_ms = std::max<int64_t>(0, restart_at_ms_ - clock_.monotonic_ms());
  switch (state_) {
    case State::kIdle:
      return "not started yet";
    case State::kStarting:
      if (last_cause_.empty()) {
        return fmt::format("starting: its hello is due within handshake_timeout_ms = {} ms",
                           config_.handshake_timeout_ms);
      }
      return fmt::format("starting again after it {}", last_cause_);
    case State::kReady:
      return "up";
    case State::kWaiting:
      if (failed_in_a_row_ >= config_.timings.circuit_failures) {
        return fmt::format(
            "held off by its circuit breaker after {} failed starts in a row (the last: it {}); "
            "next try in {} ms",
            failed_in_a_row_, last_cause_, next_in_ms);
      }
      return fmt::format("restarting after it {}; next start in {} ms", last_cause_, next_in_ms);
    case State::kDisabled:
      return fmt::format("disabled by the operator; 'ballast plugin enable {}' starts it again",
                         config_.name);
    case State::kStopping:
    case State::kStopped:
      return "stopped: the broker is shutting down";
  }
  return "unknown";
}

PluginSupervisor::Incarnation* PluginSupervisor::find_incarnation(uint64_t generation) {
  for (auto* incarnation : {&current_, &candidate_}) {
    if (*incarnation && (*incarnation)->generation == generation) return incarnation->get();
  }
  for (auto& draining : draining_) {
    if (draining->generation == generation) return draining.get();
  }
  for (auto& dying : dying_) {
    if (dying->generation == generation) return dying.get();
  }
  return nullptr;
}

bool PluginSupervisor::is_current(uint64_t generation) const {
  return current_ && current_->generation == generation;
}

}  // namespace ballast::plugins

#pragma once
// Supervises one plug-in process (docs/plugins.md, "Supervision"): starts it, checks its hello
// within handshake_timeout_ms, pings it every ping_interval_ms, and restarts it with back-off
// (100 ms doubling to 30 s; reset after a minute up) when it exits, hangs, breaks the protocol or
// fails its handshake; after 5 failed starts in a row its circuit breaker holds it off for 60 s,
// then allows one try. Every state change is a plugin.* event naming the plug-in and the cause.
//
// Filter calls: each message is one frame with its own id and deadline (call_timeout_ms). Every
// call is answered exactly once: with the plug-in's verdict, or with the attachment policy's
// verdict (policy_verdict.h) when the plug-in is down, misses the deadline, dies mid-call or the
// supervisor stops.
//
// Trigger calls (plugin_supervisor_triggers.cc): one frame per stored message, with its own id
// and deadline; answered exactly once with the plug-in's outcome, or with kRetry naming why
// when the plug-in is down, misses the deadline, dies mid-call or the supervisor stops.
//
// Reload (plugin_supervisor_reload.cc): a new process is started beside the running one and
// handshakes; then new calls go to it, and the old one answers the calls it holds (each within
// its deadline) before it is stopped. If the new one fails its handshake, exits or breaks the
// protocol first, it is killed and the old one keeps serving (plugin.reload_failed). With
// `watch`, a change of the command's files on disk (stable for one watch interval) reloads.
// disable() stops the process until enable(); calls meanwhile get the policy's verdict.
//
// Threading: confined to the host's io_context thread, except ready() and snapshot(), which any
// thread may call. The io_context and the Clock must outlive the supervisor; destroy it only after the
// io_context has stopped running (handlers hold `this`).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/publish_filter.h"
#include "plugins/asio.h"
#include "plugins/frame_codec.h"
#include "plugins/plugin_config.h"
#include "plugins/plugin_control.h"
#include "plugins/plugin_process.h"
#include "plugins/protocol_frames.h"
#include "util/clock.h"

namespace ballast::plugins {

class PluginSupervisor {
 public:
  using VerdictCallback = std::function<void(broker::FilterVerdict)>;
  using OutcomeCallback = std::function<void(TriggerOutcome)>;
  using ReloadCallback = std::function<void(Status)>;

  // Its state as list() shows it (plugin_control.h).
  using Snapshot = PluginRunState;

  PluginSupervisor(boost::asio::io_context& io, PluginConfig config, const Clock& clock,
                   std::string broker_version);
  ~PluginSupervisor();
  PluginSupervisor(const PluginSupervisor&) = delete;
  PluginSupervisor& operator=(const PluginSupervisor&) = delete;

  // Starts the first process, or (disabled) waits for enable(). Once.
  void start(bool disabled = false);
  // Answers every pending call with the policy's verdict, sends SIGTERM (SIGKILL after
  // stop_grace_ms) and runs `stopped` once every process it started is reaped. Later calls
  // are answered at once with the policy's verdict.
  void stop(std::function<void()> stopped);

  // Filters one message published to `queue`, attached with `policy`; `done` runs exactly once,
  // on the io thread (at once when the plug-in is down).
  void filter(const std::string& vhost, const std::string& queue, FilterPolicy policy,
              broker::PublishRequest message, VerdictCallback done);

  // Calls a trigger plug-in about one stored message; `done` runs exactly once, on the io thread
  // (at once when the plug-in is down: kRetry; when the frame would be over the cap: kFailed).
  void trigger(const TriggerWork& work, OutcomeCallback done);

  // Starts a new process beside the running one (see Reload above); `done` runs once it serves
  // (ok) or has failed (PLUGIN_UNAVAILABLE with the cause; the old one keeps serving). A plug-in
  // that is down is started again at once. `cause` is logged ("operator", "executable changed").
  void reload(std::string cause, ReloadCallback done);
  // Stops the process and answers every pending call with the policy's verdict; enable()
  // starts it again with a fresh back-off and circuit breaker. Each is a no-op when already so.
  void disable();
  void enable();

  // Whether the plug-in has handshaken and not failed since. Thread-safe, never blocks.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Thread-safe, never blocks on the io thread.
  Snapshot snapshot() const;
  const PluginConfig& config() const { return config_; }

 private:
  enum class State { kIdle, kStarting, kReady, kWaiting, kDisabled, kStopping, kStopped };
  enum class Failure { kStartFailed, kHandshakeFailed, kExited, kHung, kProtocolError };
  struct Incarnation;
  struct Call {
    std::string vhost;
    std::string queue;
    FilterPolicy policy = FilterPolicy::kHold;
    broker::PublishRequest message;
    VerdictCallback done;
    std::unique_ptr<boost::asio::steady_timer> deadline;
    OutcomeCallback outcome_done;  // set for a trigger call (then `done` is empty)
    uint64_t generation = 0;       // the process it was sent to
  };
  // A file of the command as last seen on disk (watch).
  struct FileStamp {
    int64_t mtime_ns = 0;
    uint64_t size = 0;
    uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };

  // Start and failure (plugin_supervisor.cc).
  void enter(State state);
  void publish_snapshot();
  Result<std::unique_ptr<Incarnation>> start_incarnation();
  void start_process();
  void fail(Failure failure, std::string cause, std::string fix);
  void schedule_restart(int64_t ran_ms);
  void retire_current();
  // Closes its pipes, sends SIGTERM and SIGKILL after stop_grace_ms, keeps it until reaped.
  void retire_gracefully(std::unique_ptr<Incarnation> incarnation);
  void on_exit(uint64_t generation);
  void finish_stop_if_done();
  std::string down_reason() const;

  // Reload, drain, disable and watch (plugin_supervisor_reload.cc).
  void start_candidate(std::string cause);
  void on_candidate_frame(const nlohmann::json& frame);
  void switch_to_candidate(std::string version);
  void reload_failed(std::string cause, std::string fix);
  void answer_reloads(const Status& status);
  void on_draining_frame(uint64_t generation, const nlohmann::json& frame);
  // Stops the draining process `generation` once no call sent to it is unanswered.
  void finish_drain_if_done(uint64_t generation);
  // Ends the drain of `generation` now (it exited, broke the protocol or ran out of time): its
  // unanswered calls get the policy's verdict.
  void end_drain(uint64_t generation, std::string_view why);
  bool is_candidate(uint64_t generation) const;
  bool is_draining(uint64_t generation) const;
  void schedule_watch();
  std::map<std::string, FileStamp> watched_files() const;

  // Reading and writing frames (plugin_supervisor_io.cc).
  void read_frames(uint64_t generation);
  void read_stderr(uint64_t generation);
  void take_stderr(Incarnation& incarnation, std::string_view bytes);
  void drain_stderr(Incarnation& incarnation);
  void wait_exit(uint64_t generation);
  void send(const nlohmann::json& frame);
  void send_encoded(std::string frame);
  void send_to(Incarnation& incarnation, std::string frame);
  void write_next(uint64_t generation);
  void dispatch_frame(uint64_t generation, const nlohmann::json& frame);
  void on_frame(const nlohmann::json& frame);
  void on_hello(const nlohmann::json& frame);
  // Fails `generation` for a protocol error: the current process, a reload's new one, or a draining old one.
  void protocol_error(uint64_t generation, std::string cause, std::string fix);
  void on_pong(const nlohmann::json& frame);
  // `generation`: the process that sent the frame (the current one, or one draining).
  void on_verdict(uint64_t generation, const nlohmann::json& frame);
  void on_outcome(uint64_t generation, const nlohmann::json& frame);  // plugin_supervisor_triggers.cc
  void on_unasked_id(uint64_t generation, std::string_view type, const nlohmann::json& frame);
  bool is_current(uint64_t generation) const;
  Incarnation* find_incarnation(uint64_t generation);

  // Calls and health (plugin_supervisor_calls.cc).
  void schedule_ping();
  void send_ping(uint64_t generation);
  // Sends `frame` as call `id` and starts its deadline.
  void start_call(uint64_t id, std::string frame, Call call);
  void on_call_deadline(uint64_t id);
  void answer_with_policy(Call& call, std::string_view why, std::string_view operator_fix);
  void answer_all_with_policy(std::string_view why, std::string_view operator_fix);
  // The calls sent to process `generation` only.
  void answer_calls_of(uint64_t generation, std::string_view why, std::string_view operator_fix);

  boost::asio::io_context& io_;
  const PluginConfig config_;
  const Clock& clock_;
  const std::string broker_version_;

  State state_ = State::kIdle;
  std::atomic<bool> ready_{false};
  uint64_t generation_ = 0;  // the last one given to a process
  std::unique_ptr<Incarnation> current_;
  std::unique_ptr<Incarnation> candidate_;  // a reload's new process, until it has handshaken
  // Processes reloads replaced, each until the calls sent to it are answered.
  std::vector<std::unique_ptr<Incarnation>> draining_;
  std::vector<ReloadCallback> reload_waiters_;
  std::map<std::string, FileStamp> watched_;
  bool watched_changed_ = false;  // a change seen at the last check, reloaded if still so at the next
  // Processes killed or stopped, until their pidfd reports the exit and they are reaped.
  std::vector<std::unique_ptr<Incarnation>> dying_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Call> calls_;
  std::optional<uint64_t> ping_id_;

  uint32_t backoff_ms_;
  uint32_t failed_in_a_row_ = 0;
  int64_t restart_at_ms_ = 0;
  std::string last_cause_;  // how the last run ended, e.g. "exited with status 3"
  bool started_before_ = false;
  uint64_t restarts_ = 0;
  uint64_t reloads_ = 0;
  std::string version_;  // from the current process's hello
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer pong_timer_;
  boost::asio::steady_timer restart_timer_;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer candidate_timer_;  // a reload's handshake deadline
  boost::asio::steady_timer watch_timer_;
  std::function<void()> stopped_;

  mutable std::mutex snapshot_mu_;  // a leaf: held only to copy snapshot_
  Snapshot snapshot_;               // guarded by snapshot_mu_
};

}  // namespace ballast::plugins

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
// Threading: confined to the host's io_context thread, except ready(), which any thread may
// call. The io_context and the Clock must outlive the supervisor; destroy it only after the
// io_context has stopped running (handlers hold `this`).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/publish_filter.h"
#include "plugins/asio.h"
#include "plugins/frame_codec.h"
#include "plugins/plugin_config.h"
#include "plugins/plugin_process.h"
#include "plugins/protocol_frames.h"
#include "util/clock.h"

namespace ballast::plugins {

class PluginSupervisor {
 public:
  using VerdictCallback = std::function<void(broker::FilterVerdict)>;
  using OutcomeCallback = std::function<void(TriggerOutcome)>;

  PluginSupervisor(boost::asio::io_context& io, PluginConfig config, const Clock& clock,
                   std::string broker_version);
  ~PluginSupervisor();
  PluginSupervisor(const PluginSupervisor&) = delete;
  PluginSupervisor& operator=(const PluginSupervisor&) = delete;

  // Starts the first process. Once.
  void start();
  // Answers every pending call with the policy's verdict, sends SIGTERM (SIGKILL after
  // stop_grace_ms) and runs `stopped` once every process it started is reaped. Later calls
  // are answered at once with the policy's verdict.
  void stop(std::function<void()> stopped);

  // Filters one message published to `queue`; `done` runs exactly once, on the io thread
  // (at once when the plug-in is down).
  void filter(const std::string& vhost, const std::string& queue, broker::PublishRequest message,
              VerdictCallback done);

  // Calls a trigger plug-in about one stored message; `done` runs exactly once, on the io thread
  // (at once when the plug-in is down: kRetry; when the frame would be over the cap: kFailed).
  void trigger(const TriggerWork& work, OutcomeCallback done);

  // Whether the plug-in has handshaken and not failed since. Thread-safe, never blocks.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  const PluginConfig& config() const { return config_; }

 private:
  enum class State { kIdle, kStarting, kReady, kWaiting, kStopping, kStopped };
  enum class Failure { kStartFailed, kHandshakeFailed, kExited, kHung, kProtocolError };
  struct Incarnation;
  struct Call {
    std::string vhost;
    std::string queue;
    broker::PublishRequest message;
    VerdictCallback done;
    std::unique_ptr<boost::asio::steady_timer> deadline;
    OutcomeCallback outcome_done;  // set for a trigger call (then `done` is empty)
  };

  // Start and failure (plugin_supervisor.cc).
  void start_process();
  void fail(Failure failure, std::string cause, std::string fix);
  void schedule_restart(int64_t ran_ms);
  void retire_current();
  void on_exit(uint64_t generation);
  void finish_stop_if_done();
  std::string down_reason() const;

  // Reading and writing frames (plugin_supervisor_io.cc).
  void read_frames(uint64_t generation);
  void read_stderr(uint64_t generation);
  void take_stderr(Incarnation& incarnation, std::string_view bytes);
  void drain_stderr(Incarnation& incarnation);
  void wait_exit(uint64_t generation);
  void send(const nlohmann::json& frame);
  void send_encoded(std::string frame);
  void write_next(uint64_t generation);
  void on_frame(const nlohmann::json& frame);
  void on_hello(const nlohmann::json& frame);
  void on_pong(const nlohmann::json& frame);
  void on_verdict(const nlohmann::json& frame);
  void on_outcome(const nlohmann::json& frame);  // plugin_supervisor_triggers.cc
  void on_unasked_id(std::string_view type, const nlohmann::json& frame);
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

  boost::asio::io_context& io_;
  const PluginConfig config_;
  const Clock& clock_;
  const std::string broker_version_;

  State state_ = State::kIdle;
  std::atomic<bool> ready_{false};
  uint64_t generation_ = 0;
  std::unique_ptr<Incarnation> current_;
  // Processes killed or stopped, until their pidfd reports the exit and they are reaped.
  std::vector<std::unique_ptr<Incarnation>> dying_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Call> calls_;
  std::optional<uint64_t> ping_id_;

  uint32_t backoff_ms_;
  uint32_t failed_in_a_row_ = 0;
  int64_t restart_at_ms_ = 0;
  std::string last_cause_;  // how the last run ended, e.g. "exited with status 3"
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer pong_timer_;
  boost::asio::steady_timer restart_timer_;
  boost::asio::steady_timer kill_timer_;
  std::function<void()> stopped_;
};

}  // namespace ballast::plugins

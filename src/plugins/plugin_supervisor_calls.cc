// PluginSupervisor: filter calls, their deadlines and verdicts, and the health ping.
#include <fmt/format.h>

#include "plugins/plugin_incarnation.h"
#include "plugins/plugin_supervisor.h"
#include "plugins/policy_verdict.h"
#include "plugins/protocol_frames.h"
#include "util/log.h"

namespace ballast::plugins {

namespace {

// Filter calls one plug-in may hold unanswered; beyond it, messages get the policy's verdict at
// once instead of queueing without bound behind a plug-in slower than the publishers.
constexpr size_t kMaxCallsInFlight = 4096;

}  // namespace

void PluginSupervisor::filter(const std::string& vhost, const std::string& queue, FilterPolicy policy,
                              broker::PublishRequest message, VerdictCallback done) {
  if (state_ != State::kReady) {
    done(policy_verdict(config_.name, policy, vhost, queue, std::move(message), down_reason(),
                        "fix the plug-in so that it starts and stays up"));
    return;
  }
  if (calls_.size() >= kMaxCallsInFlight) {
    done(policy_verdict(config_.name, policy, vhost, queue, std::move(message),
                        fmt::format("too slow: {} calls are waiting for its answers, the most it is given",
                                    kMaxCallsInFlight),
                        "make the plug-in faster, or publish to the queue more slowly"));
    return;
  }
  const uint64_t id = next_id_++;
  std::string frame = encode_frame(filter_frame(id, vhost, queue, message));
  if (frame.size() > kMaxFrameBytes) {
    done(policy_verdict(
        config_.name, policy, vhost, queue, std::move(message),
        fmt::format("the message is too large for it: its filter frame of {} bytes is over the "
                    "protocol's cap of {} bytes",
                    frame.size(), kMaxFrameBytes),
        "lower limits.max_message_bytes for filtered queues (a body travels base64-encoded)"));
    return;
  }
  start_call(id, std::move(frame),
             Call{vhost, queue, policy, std::move(message), std::move(done), nullptr, nullptr, 0});
}

void PluginSupervisor::start_call(uint64_t id, std::string frame, Call call) {
  call.generation = current_->generation;
  send_encoded(std::move(frame));
  call.deadline = std::make_unique<boost::asio::steady_timer>(io_);
  call.deadline->expires_after(std::chrono::milliseconds(config_.call_timeout_ms));
  call.deadline->async_wait([this, id](const boost::system::error_code& error) {
    if (!error) on_call_deadline(id);
  });
  calls_.emplace(id, std::move(call));
}

void PluginSupervisor::on_call_deadline(uint64_t id) {
  auto found = calls_.find(id);
  if (found == calls_.end()) return;
  Call call = std::move(found->second);
  calls_.erase(found);
  log::limited_event(
      log::Level::kWarn, "plugin.slow",
      {log::kv("plugin", config_.name), log::kv("queue", call.queue), log::kv("code", "PLUGIN_UNAVAILABLE"),
       log::kv("call_timeout_ms", config_.call_timeout_ms),
       log::kv("policy", call.outcome_done ? std::string_view("retry") : filter_policy_name(call.policy))});
  answer_with_policy(
      call, fmt::format("too slow: no answer within call_timeout_ms = {} ms", config_.call_timeout_ms),
      fmt::format("make the plug-in faster or raise call_timeout_ms in the [[plugins]] table with "
                  "name = \"{}\"",
                  config_.name));
  finish_drain_if_done(call.generation);
}

void PluginSupervisor::on_verdict(uint64_t generation, const nlohmann::json& frame) {
  const std::optional<uint64_t> id = frame_id(frame);
  auto found = id ? calls_.find(*id) : calls_.end();
  if (found == calls_.end() || found->second.outcome_done || found->second.generation != generation) {
    return on_unasked_id(generation, "verdict", frame);
  }
  Call call = std::move(found->second);
  calls_.erase(found);
  call.deadline->cancel();
  auto verdict = verdict_from_frame(frame, config_, call.vhost, call.queue, call.message);
  if (!verdict) {
    const std::string cause = fmt::format("broke the protocol: {}", verdict.error().message());
    answer_with_policy(call, cause, "fix or replace the plug-in");
    return protocol_error(call.generation, cause, verdict.error().fix());
  }
  call.done(std::move(*verdict));
  finish_drain_if_done(generation);
}

void PluginSupervisor::answer_with_policy(Call& call, std::string_view why, std::string_view operator_fix) {
  call.deadline->cancel();
  if (call.outcome_done) return call.outcome_done(TriggerOutcome{TriggerResult::kRetry, std::string(why)});
  call.done(policy_verdict(config_.name, call.policy, call.vhost, call.queue, std::move(call.message), why,
                           operator_fix));
}

void PluginSupervisor::answer_calls_of(uint64_t generation, std::string_view why,
                                       std::string_view operator_fix) {
  std::vector<Call> calls;
  for (auto it = calls_.begin(); it != calls_.end();) {
    if (it->second.generation != generation) {
      ++it;
      continue;
    }
    calls.push_back(std::move(it->second));
    it = calls_.erase(it);
  }
  // Taken out first: a callback may come back into this supervisor.
  for (Call& call : calls) answer_with_policy(call, why, operator_fix);
}

void PluginSupervisor::answer_all_with_policy(std::string_view why, std::string_view operator_fix) {
  // Taken out first: a callback may come back into this supervisor.
  std::map<uint64_t, Call> calls = std::exchange(calls_, {});
  for (auto& [id, call] : calls) answer_with_policy(call, why, operator_fix);
}

void PluginSupervisor::schedule_ping() {
  const uint64_t generation = current_->generation;
  ping_timer_.expires_after(std::chrono::milliseconds(config_.ping_interval_ms));
  ping_timer_.async_wait([this, generation](const boost::system::error_code& error) {
    if (error || !is_current(generation) || state_ != State::kReady) return;
    if (!ping_id_) send_ping(generation);
    schedule_ping();
  });
}

void PluginSupervisor::send_ping(uint64_t generation) {
  const uint64_t id = next_id_++;
  ping_id_ = id;
  send(ping_frame(id));
  pong_timer_.expires_after(std::chrono::milliseconds(config_.call_timeout_ms));
  pong_timer_.async_wait([this, generation, id](const boost::system::error_code& error) {
    if (error || !is_current(generation) || ping_id_ != id) return;
    fail(
        Failure::kHung,
        fmt::format("did not answer ping {} within call_timeout_ms = {} ms", id, config_.call_timeout_ms),
        fmt::format(
            "find where \"{}\" blocks (its plugin.stderr events) or raise call_timeout_ms in its [[plugins]] "
            "table",
            config_.name));
  });
}

}  // namespace ballast::plugins

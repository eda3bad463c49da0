// PluginSupervisor: trigger calls (docs/plugins.md, "Trigger calls") and their outcomes.
#include <fmt/format.h>

#include "plugins/plugin_supervisor.h"
#include "util/log.h"

namespace ballast::plugins {

void PluginSupervisor::trigger(const TriggerWork& work, OutcomeCallback done) {
  if (state_ != State::kReady) return done(TriggerOutcome{TriggerResult::kRetry, down_reason()});
  const uint64_t id = next_id_++;
  std::string frame = encode_frame(trigger_frame(id, work));
  if (frame.size() > kMaxFrameBytes) {
    return done(TriggerOutcome{
        TriggerResult::kFailed,
        fmt::format(
            "the message is too large for a trigger call: its frame of {} bytes is over the protocol's "
            "cap of {} bytes",
            frame.size(), kMaxFrameBytes)});
  }
  Call call;
  call.vhost = work.vhost;
  call.queue = work.queue;
  call.outcome_done = std::move(done);
  start_call(id, std::move(frame), std::move(call));
}

void PluginSupervisor::on_outcome(uint64_t generation, const nlohmann::json& frame) {
  const std::optional<uint64_t> id = frame_id(frame);
  auto found = id ? calls_.find(*id) : calls_.end();
  if (found == calls_.end() || !found->second.outcome_done || found->second.generation != generation) {
    return on_unasked_id(generation, "outcome", frame);
  }
  Call call = std::move(found->second);
  calls_.erase(found);
  call.deadline->cancel();
  auto outcome = outcome_from_frame(frame);
  if (!outcome) {
    const std::string cause = fmt::format("broke the protocol: {}", outcome.error().message());
    call.outcome_done(TriggerOutcome{TriggerResult::kRetry, cause});
    return protocol_error(call.generation, cause, outcome.error().fix());
  }
  call.outcome_done(std::move(*outcome));
  finish_drain_if_done(generation);
}

}  // namespace ballast::plugins

#pragma once
// The JSON objects of plug-in protocol version 1 (docs/plugins.md): the broker's hello, ping,
// filter and trigger frames, and checking a plug-in's hello and turning its verdicts and
// outcomes into broker verdicts and trigger outcomes.
// A frame a plug-in got wrong is a protocol error: PLUGIN_UNAVAILABLE naming what is wrong (the
// supervisor adds the plug-in's name, logs plugin.protocol_error and restarts it).
// Thread-safe: pure functions.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/publish_filter.h"
#include "plugins/plugin_config.h"
#include "util/result.h"

namespace ballast::plugins {

inline constexpr int kProtocolVersion = 1;

nlohmann::json hello_frame(const PluginConfig& config, std::string_view broker_version);
nlohmann::json ping_frame(uint64_t id);
nlohmann::json filter_frame(uint64_t id, std::string_view vhost, std::string_view queue,
                            const broker::PublishRequest& message);

// One trigger call: a message stored in `queue`, as its work item was taken for the
// `attempt`-th time (1 = first).
struct TriggerWork {
  std::string vhost;
  std::string queue;
  uint32_t attempt = 1;
  broker::DeliveredMessage message;  // the message as stored (without the work item's own headers)
};
// The message's "routing_key" is there only for one published over AMQP.
nlohmann::json trigger_frame(uint64_t id, const TriggerWork& work);

// A trigger plug-in's answer (docs/plugins.md, "Trigger calls"). The broker also answers a call
// itself with kRetry when the plug-in is down, too slow or dies during the call.
enum class TriggerResult : uint8_t {
  kDone,    // the work is done: the work item is settled
  kRetry,   // try again later (after a back-off), up to the trigger's max_attempts
  kFailed,  // it will never work: the work item is dead-lettered at once with the reason
};
std::string_view trigger_result_name(TriggerResult result);
struct TriggerOutcome {
  TriggerResult result = TriggerResult::kDone;
  std::string reason;  // why (kRetry, kFailed); "no reason given" when the plug-in gave none
};
// An "outcome" frame: "result" must be "done", "retry" or "failed". Otherwise a protocol error.
Result<TriggerOutcome> outcome_from_frame(const nlohmann::json& frame);

// The plug-in's hello: "protocol" must be 1 and "capabilities" must hold the configured kind.
// Returns the plug-in's version ("version", or "unknown"), else the reason it fails.
Result<std::string> check_hello(const nlohmann::json& frame, const PluginConfig& config);

// The frame's "id" member, when it is a non-negative integer.
std::optional<uint64_t> frame_id(const nlohmann::json& frame);

// What the broker does with `message`, published to `queue`, given the plug-in's verdict frame:
// accept -> kAccept as published; modify -> kAccept with the new headers and/or body;
// reroute -> kReroute to the named queue; reject -> kRefuse with PLUGIN_REJECTED naming the
// plug-in, the queue and the plug-in's reason. A malformed verdict is a protocol error.
// `message` is moved into the verdict on success and left unchanged on an error.
Result<broker::FilterVerdict> verdict_from_frame(const nlohmann::json& frame, const PluginConfig& config,
                                                 std::string_view vhost, std::string_view queue,
                                                 broker::PublishRequest& message);

}  // namespace ballast::plugins

#pragma once
// The broker's side of trigger plug-ins (docs/plugins.md, "Triggers"): which plug-ins want to
// hear about a message once it is durably stored in a queue. For each one the broker appends a
// work item, in the same commit as the message, to the hidden durable queue
// "ballast.trigger.<plugin>" of the message's vhost; the plug-in host consumes that queue through
// the ordinary Broker calls (receive, ack_leases, nack_leases, dead_letter_leases). So the broker
// never waits on a trigger, and pending trigger work survives a restart.
//
// A work item is a copy of the message (id, body, properties, priority) with two headers added:
// kTriggerVhostHeader and kTriggerQueueHeader, naming where the message was stored. It never
// expires and is not delayed.
//
// Threading: both methods are called on the broker thread for every stored message and must
// not block: an implementation reads an atomic and an immutable snapshot.

#include <string>
#include <string_view>
#include <vector>

namespace ballast::broker {

inline constexpr std::string_view kTriggerQueuePrefix = "ballast.trigger.";
inline constexpr std::string_view kTriggerVhostHeader = "x-ballast-trigger-vhost";
inline constexpr std::string_view kTriggerQueueHeader = "x-ballast-trigger-queue";

class StoreTriggers {
 public:
  virtual ~StoreTriggers() = default;
  // Whether any queue has a trigger (a cheap test made before the lookup below).
  virtual bool triggers_any() const = 0;
  // The names of the trigger plug-ins attached to (vhost, queue), in a fixed order; empty if none.
  virtual std::vector<std::string> triggers(const std::string& vhost, const std::string& queue) const = 0;
};

}  // namespace ballast::broker

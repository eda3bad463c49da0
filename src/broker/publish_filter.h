#pragma once
// The broker's side of publish filters (docs/plugins.md): what the broker asks before it stores a
// message published to a queue that has a filter attached, and the verdicts it understands.
// The plug-in host (src/plugins) implements it; the broker never waits on it without a deadline:
// the implementation answers every call exactly once, within the attachment's deadline, turning
// "down" and "too slow" into the verdict its policy names (hold, bypass or refuse).
//
// Threading: filters() and available() are called on the broker thread and must not block
// (they read a snapshot). filter() is called on the broker thread and returns at once; `done`
// may run on any thread (the broker posts it back to its own).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "broker/message.h"
#include "util/result.h"

namespace ballast::broker {

// The prefix of the queue that holds a filtered queue's messages while its filter is down and
// its policy is hold: "ballast.held.<queue>".
inline constexpr std::string_view kHeldQueuePrefix = "ballast.held.";

enum class FilterAction : uint8_t {
  kAccept,   // store `message` (as published, or as the filter rewrote it) in the queue
  kReroute,  // store `message` in `queue` instead (same vhost)
  kRefuse,   // store nothing; the publisher gets `refusal` (PLUGIN_REJECTED or PLUGIN_UNAVAILABLE)
  kHold,     // the filter is down or too slow: keep the message in the held queue until it is back
  kBypass,   // the filter is down or too slow: store unfiltered, tagged with `bypass_header`
};

struct FilterVerdict {
  FilterAction action = FilterAction::kAccept;
  PublishRequest message;            // the message to store (kAccept, kReroute, kHold, kBypass)
  std::string queue;                 // kReroute: the queue to store it in
  std::optional<Error> refusal;      // kRefuse: why
  std::string bypass_header;         // kBypass: the value of x-ballast-filter-bypassed
};

class PublishFilter {
 public:
  virtual ~PublishFilter() = default;
  // Whether publishes to (vhost, queue) pass through a filter.
  virtual bool filters(const std::string& vhost, const std::string& queue) const = 0;
  // Whether any queue of `vhost` has a filter (a cheap test for the routed publish path).
  virtual bool filters_any(const std::string& vhost) const = 0;
  // Whether the filter of (vhost, queue) is up now: held messages are sent to it only then.
  virtual bool available(const std::string& vhost, const std::string& queue) const = 0;
  // Answers one verdict per message, in the order of `messages`, exactly once.
  virtual void filter(const std::string& vhost, const std::string& queue, std::vector<PublishRequest> messages,
                      std::function<void(std::vector<FilterVerdict>)> done) = 0;
};

}  // namespace ballast::broker

#pragma once
// What the API and the CLI see of the plug-ins and may change at run time (docs/plugins.md,
// "Run-time changes"; docs/http-api.md, /api/v1/plugins): each plug-in's state, attachments
// and counters, and attach / detach / reload / disable / enable. The plug-in host implements
// it; protocol/http reads it. Header only: plain values and an interface.
//
// Threading: list() and show() are thread-safe and never block on the host's thread. The
// changes are asynchronous: `done` runs exactly once and must not block, on the host's thread,
// at once on the caller's, or (when the host stops first) with SHUTTING_DOWN on the thread that
// stops it or on the broker's thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace ballast::plugins {

// What a trigger has done since the broker started. Plain values.
struct TriggerCounters {
  uint64_t done = 0;           // work items settled as done
  uint64_t retries = 0;        // attempts that failed and were scheduled again
  uint64_t dead_lettered = 0;  // work items given up (failed, or max_attempts reached)
  uint64_t in_hand = 0;        // work items taken and not yet settled or returned
};

struct AttachmentView {
  std::string queue;
  std::string policy;  // "hold" | "bypass" | "reject" (filters; empty for a trigger)
  std::string source;  // "config" (its [[plugins]] table) or "runtime" (ballast plugin attach)
};

// How a plug-in runs now. Plain values.
struct PluginRunState {
  // "starting" | "ready" | "restarting" | "circuit-open" | "disabled" | "stopped"
  std::string state = "starting";
  std::string reason;   // why it is not ready, as a publisher under policy reject reads it; empty when ready
  int pid = 0;          // 0 = no process
  std::string version;  // from its hello; empty while not ready
  int64_t since_unix_ms = 0;       // when it entered `state`
  uint64_t restarts = 0;           // processes started after the first (reloads not counted)
  uint64_t reloads = 0;            // reloads that switched to a new process
  uint64_t failures_in_a_row = 0;  // failed starts since it last stayed up
};

struct PluginView {
  std::string name;
  std::string kind;  // "filter" | "trigger"
  std::vector<std::string> command;
  PluginRunState run;
  bool watching = false;  // watch = true: reloads when its command's files change
  std::vector<AttachmentView> attachments;
  std::optional<TriggerCounters> trigger;  // triggers only
};

class PluginControl {
 public:
  using ViewCallback = std::function<void(Result<PluginView>)>;
  virtual ~PluginControl() = default;

  // Every configured plug-in, in configuration order.
  virtual std::vector<PluginView> list() const = 0;
  // One; NOT_FOUND names the nearest configured name.
  virtual Result<PluginView> show(const std::string& plugin) const = 0;
  // Attaches `queue` (vhost "/") with `policy` (filters; empty: a queue of the plug-in's table
  // goes back to the table, any other gets the table's policy), stored in the journal. NOT_FOUND names an
  // unknown plug-in; INVALID_ARGUMENT a broker queue
  // ("ballast."), a bad policy, or a queue that another filter holds.
  virtual void attach(std::string plugin, std::string queue, std::string policy, ViewCallback done) = 0;
  // Detaches `queue`, stored in the journal; its held messages then move on unfiltered.
  virtual void detach(std::string plugin, std::string queue, ViewCallback done) = 0;
  // Starts the plug-in's command again beside the running process and switches once it has
  // handshaken; answers then, or with PLUGIN_UNAVAILABLE and the cause (the old keeps running).
  virtual void reload(std::string plugin, ViewCallback done) = 0;
  // Stops the plug-in's process until enable(); its attachments' policies apply meanwhile.
  // Stored in the journal.
  virtual void disable(std::string plugin, ViewCallback done) = 0;
  virtual void enable(std::string plugin, ViewCallback done) = 0;
};

}  // namespace ballast::plugins

#pragma once
// A plug-in's run-time settings (docs/plugins.md, "Run-time changes"): what `ballast plugin
// attach|detach|disable|enable` changed, journalled whole per plug-in (Broker::
// store_plugin_settings) and combined with its [[plugins]] table:
//   - a queue attached at run time is attached with the policy given, whether or not the file
//     names it;
//   - a queue of the file detached at run time is not attached;
//   - every other queue of the file is attached with the file's policy;
//   - disabled at run time: the plug-in is not run (its attachments stay, with their policies).
// So a run-time change wins for the queues it names, and the file decides everything else.
// Plain values and pure functions; thread-safe.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/plugin_config.h"
#include "util/result.h"

namespace ballast::plugins {

struct PluginOverlay {
  bool disabled = false;
  std::map<std::string, FilterPolicy> attached;  // queue -> policy (a trigger's policy is unused)
  std::set<std::string> detached;                // queues of the file detached at run time

  bool empty() const { return !disabled && attached.empty() && detached.empty(); }
  bool operator==(const PluginOverlay&) const = default;
};

// One queue a plug-in is attached to, and where that comes from.
struct Attachment {
  std::string queue;
  FilterPolicy policy = FilterPolicy::kHold;
  bool from_runtime = false;  // attached at run time (else: by the [[plugins]] table)
};

// The queues `config` is attached to under `overlay`, in the file's order, then the run-time ones.
std::vector<Attachment> effective_attachments(const PluginConfig& config, const PluginOverlay& overlay);

// `overlay` with `queue` attached with `policy`; without one, a queue of the file goes back to
// the file (no run-time entry left), any other is attached with the file's policy.
PluginOverlay with_attached(PluginOverlay overlay, const PluginConfig& config, const std::string& queue,
                            std::optional<FilterPolicy> policy);
// `overlay` with `queue` detached (a queue of the file stays detached until attached again).
PluginOverlay with_detached(PluginOverlay overlay, const PluginConfig& config, const std::string& queue);

// JSON: {"version":1,"disabled":false,"attached":{"q":"hold"},"detached":["r"]}; an empty overlay
// encodes as "" (no settings stored). decode fails with STORAGE_CORRUPT naming the plug-in.
std::string encode_overlay(const PluginOverlay& overlay);
Result<PluginOverlay> decode_overlay(std::string_view plugin, std::string_view encoded);

// "hold" | "bypass" | "reject"; INVALID_ARGUMENT naming the value otherwise.
Result<FilterPolicy> parse_filter_policy(std::string_view name);

}  // namespace ballast::plugins

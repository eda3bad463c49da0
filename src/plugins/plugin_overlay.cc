#include "plugins/plugin_overlay.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ballast::plugins {

namespace {

constexpr int kOverlayVersion = 1;

Error unreadable(std::string_view plugin, std::string_view why) {
  return Error(ErrorCode::kStorageCorrupt,
               fmt::format("the stored run-time settings of plug-in \"{}\" do not parse: {}", plugin, why),
               fmt::format("run 'ballast plugin show {}' and attach, detach or enable it again; until then "
                           "it runs as its [[plugins]] table says",
                           plugin));
}

}  // namespace

std::vector<Attachment> effective_attachments(const PluginConfig& config, const PluginOverlay& overlay) {
  std::vector<Attachment> attachments;
  for (const std::string& queue : config.queues) {
    if (overlay.detached.contains(queue) || overlay.attached.contains(queue)) continue;
    attachments.push_back({queue, config.policy, false});
  }
  for (const auto& [queue, policy] : overlay.attached) attachments.push_back({queue, policy, true});
  return attachments;
}

namespace {

bool in_file(const PluginConfig& config, const std::string& queue) {
  return std::find(config.queues.begin(), config.queues.end(), queue) != config.queues.end();
}

}  // namespace

PluginOverlay with_attached(PluginOverlay overlay, const PluginConfig& config, const std::string& queue,
                            std::optional<FilterPolicy> policy) {
  overlay.detached.erase(queue);
  if (!policy && in_file(config, queue)) {
    overlay.attached.erase(queue);
  } else {
    overlay.attached[queue] = policy.value_or(config.policy);
  }
  return overlay;
}

PluginOverlay with_detached(PluginOverlay overlay, const PluginConfig& config, const std::string& queue) {
  overlay.attached.erase(queue);
  if (in_file(config, queue)) overlay.detached.insert(queue);
  return overlay;
}

std::string encode_overlay(const PluginOverlay& overlay) {
  if (overlay.empty()) return {};
  nlohmann::json attached = nlohmann::json::object();
  for (const auto& [queue, policy] : overlay.attached) attached[queue] = filter_policy_name(policy);
  nlohmann::json json{{"version", kOverlayVersion},
                      {"disabled", overlay.disabled},
                      {"attached", std::move(attached)},
                      {"detached", overlay.detached}};
  return json.dump();
}

Result<PluginOverlay> decode_overlay(std::string_view plugin, std::string_view encoded) {
  PluginOverlay overlay;
  if (encoded.empty()) return overlay;
  const nlohmann::json json = nlohmann::json::parse(encoded, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return unreadable(plugin, "not a JSON object");
  const auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer() || *version != kOverlayVersion) {
    return unreadable(plugin, fmt::format("version is not {}", kOverlayVersion));
  }
  const auto disabled = json.find("disabled");
  const auto attached = json.find("attached");
  const auto detached = json.find("detached");
  if (disabled == json.end() || !disabled->is_boolean())
    return unreadable(plugin, "\"disabled\" is not a boolean");
  if (attached == json.end() || !attached->is_object())
    return unreadable(plugin, "\"attached\" is not an object");
  if (detached == json.end() || !detached->is_array())
    return unreadable(plugin, "\"detached\" is not an array");
  overlay.disabled = disabled->get<bool>();
  for (const auto& [queue, policy] : attached->items()) {
    auto parsed = parse_filter_policy(policy.is_string() ? policy.get<std::string>() : std::string());
    if (!parsed) {
      return unreadable(plugin,
                        fmt::format("the policy of queue \"{}\" is not hold, bypass or reject", queue));
    }
    overlay.attached[queue] = *parsed;
  }
  for (const auto& queue : *detached) {
    if (!queue.is_string()) return unreadable(plugin, "\"detached\" holds a value that is not a string");
    overlay.detached.insert(queue.get<std::string>());
  }
  return overlay;
}

Result<FilterPolicy> parse_filter_policy(std::string_view name) {
  for (FilterPolicy policy : {FilterPolicy::kHold, FilterPolicy::kBypass, FilterPolicy::kReject}) {
    if (filter_policy_name(policy) == name) return policy;
  }
  return Error(
      ErrorCode::kInvalidArgument, fmt::format("policy \"{}\" is not one of hold, bypass, reject", name),
      "give --policy hold, bypass or reject (docs/plugins.md, \"When a plug-in is down or too slow\")");
}

}  // namespace ballast::plugins

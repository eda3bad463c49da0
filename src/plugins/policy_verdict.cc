#include "plugins/policy_verdict.h"

#include <fmt/format.h>

namespace ballast::plugins {

broker::FilterVerdict policy_verdict(const PluginConfig& config, std::string_view vhost,
                                     std::string_view queue, broker::PublishRequest message,
                                     std::string_view why, std::string_view operator_fix) {
  broker::FilterVerdict verdict;
  switch (config.policy) {
    case FilterPolicy::kHold:
      verdict.action = broker::FilterAction::kHold;
      verdict.message = std::move(message);
      break;
    case FilterPolicy::kBypass:
      verdict.action = broker::FilterAction::kBypass;
      verdict.message = std::move(message);
      verdict.bypass_header = fmt::format("{}: {}", config.name, why);
      break;
    case FilterPolicy::kReject:
      verdict.action = broker::FilterAction::kRefuse;
      verdict.refusal = Error(
          ErrorCode::kPluginUnavailable,
          fmt::format("filter plug-in \"{}\" of queue \"{}\" (vhost \"{}\") is unavailable: {}", config.name,
                      queue, vhost, why),
          fmt::format(
              "publish again later; nothing was stored. Operator: {}; the plugin.* events of \"{}\" in the "
              "broker log say why it is down; policy = \"hold\" or \"bypass\" in its [[plugins]] table "
              "accepts messages while it is (docs/plugins.md)",
              operator_fix, config.name));
      break;
  }
  return verdict;
}

}  // namespace ballast::plugins

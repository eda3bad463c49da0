#include "plugins/policy_verdict.h"

#include <fmt/format.h>

namespace ballast::plugins {

broker::FilterVerdict policy_verdict(std::string_view plugin, FilterPolicy policy, std::string_view vhost,
                                     std::string_view queue, broker::PublishRequest message,
                                     std::string_view why, std::string_view operator_fix) {
  broker::FilterVerdict verdict;
  switch (policy) {
    case FilterPolicy::kHold:
      verdict.action = broker::FilterAction::kHold;
      verdict.message = std::move(message);
      break;
    case FilterPolicy::kBypass:
      verdict.action = broker::FilterAction::kBypass;
      verdict.message = std::move(message);
      verdict.bypass_header = fmt::format("{}: {}", plugin, why);
      break;
    case FilterPolicy::kReject:
      verdict.action = broker::FilterAction::kRefuse;
      verdict.refusal = Error(
          ErrorCode::kPluginUnavailable,
          fmt::format("filter plug-in \"{}\" of queue \"{}\" (vhost \"{}\") is unavailable: {}", plugin,
                      queue, vhost, why),
          fmt::format(
              "publish again later; nothing was stored. Operator: {}; the plugin.* events of \"{}\" in the "
              "broker log say why it is down; attaching the queue with policy hold or bypass accepts "
              "messages while "
              "it is (docs/plugins.md)",
              operator_fix, plugin));
      break;
  }
  return verdict;
}

}  // namespace ballast::plugins

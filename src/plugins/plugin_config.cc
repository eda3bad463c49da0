#include "plugins/plugin_config.h"

namespace ballast::plugins {

std::string_view filter_policy_name(FilterPolicy policy) {
  switch (policy) {
    case FilterPolicy::kHold:
      return "hold";
    case FilterPolicy::kBypass:
      return "bypass";
    case FilterPolicy::kReject:
      return "reject";
  }
  return "unknown";
}

}  // namespace ballast::plugins

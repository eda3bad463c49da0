#include "ops/plugin_checks.h"

#include <fmt/format.h>

#include "plugins/plugin_process.h"

namespace ballast::ops {

void check_plugins(const Config& config, std::vector<CheckResult>& results) {
  for (const plugins::PluginConfig& plugin : config.plugins) {
    const std::string name = fmt::format("plugins.{}", plugin.name);
    auto executable = plugins::resolve_executable(plugin);
    if (!executable) {
      results.push_back(problem(name, CheckStatus::kWarn, executable.error(), ProblemClass::kConfig));
      continue;
    }
    results.push_back(
        passed(name, fmt::format("plug-in \"{}\": {} is executable; it filters {} queue{}", plugin.name,
                                 *executable, plugin.queues.size(), plugin.queues.size() == 1 ? "" : "s")));
  }
}

}  // namespace ballast::ops

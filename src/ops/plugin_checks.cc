#include "ops/plugin_checks.h"

#include <fmt/format.h>

#include "plugins/handshake_probe.h"
#include "plugins/plugin_cgroup.h"
#include "plugins/plugin_process.h"

namespace ballast::ops {

namespace {

constexpr std::string_view kProbeVersion = "ballast doctor";

std::string attached_text(const plugins::PluginConfig& plugin) {
  return fmt::format("it {} {} queue{} in the file",
                     plugin.kind == plugins::kTriggerKind ? "hears of" : "filters", plugin.queues.size(),
                     plugin.queues.size() == 1 ? "" : "s");
}

// With cgroup_* keys set, the hierarchy the plug-in's cgroup would be created in must be writable.
Status check_cgroup(const plugins::PluginConfig& plugin) {
  if (!plugin.wants_cgroup()) return ok_status();
  return plugins::PluginCgroup::check_parents(plugin, plugins::CgroupHost::of_this_process());
}

}  // namespace

void check_plugins(const Config& config, PluginProbe probe, std::vector<CheckResult>& results) {
  for (const plugins::PluginConfig& plugin : config.plugins) {
    const std::string name = fmt::format("plugins.{}", plugin.name);
    auto executable = plugins::resolve_executable(plugin);
    if (!executable) {
      results.push_back(problem(name, CheckStatus::kWarn, executable.error(), ProblemClass::kConfig));
      continue;
    }
    if (auto cgroup = check_cgroup(plugin); !cgroup) {
      results.push_back(problem(name, CheckStatus::kWarn, cgroup.error(), ProblemClass::kConfig));
      continue;
    }
    if (probe == PluginProbe::kExecutableOnly) {
      results.push_back(passed(name, fmt::format("plug-in \"{}\": {} is executable; {}", plugin.name,
                                                 *executable, attached_text(plugin))));
      continue;
    }
    auto version = plugins::probe_handshake(plugin, kProbeVersion);
    if (!version) {
      results.push_back(problem(name, CheckStatus::kWarn, version.error(), ProblemClass::kConfig));
      continue;
    }
    results.push_back(passed(name, fmt::format("plug-in \"{}\": {} handshakes (version {}); {}", plugin.name,
                                               *executable, *version, attached_text(plugin))));
  }
}

}  // namespace ballast::ops

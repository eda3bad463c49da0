#pragma once
// `ballast plugin list|show|attach|detach|reload|disable|enable` (docs/cli.md, docs/plugins.md
// "Run-time changes"). The constructor registers the subcommands on `app`; when one is parsed,
// its action is stored in `selected`. `app`, `globals` and `selected` must outlive this object,
// and its callbacks refer to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <string>

#include <nlohmann/json.hpp>

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class PluginCommands {
 public:
  PluginCommands(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  PluginCommands(const PluginCommands&) = delete;
  PluginCommands& operator=(const PluginCommands&) = delete;

 private:
  void add_queue_change(CLI::App& plugin, CommandAction& selected, const char* action,
                        const char* description);
  ExitCode list(ApiClient& api, Console& console) const;
  ExitCode show(ApiClient& api, Console& console) const;
  ExitCode change(ApiClient& api, Console& console, const std::string& action) const;

  const GlobalOptions& globals_;
  std::string name_;
  std::string queue_;
  std::string policy_;
};

// GET /plugins answered {"plugins": [...]}: one row per plug-in with its state and queues.
std::string render_plugin_list(const nlohmann::json& answer);
// One plug-in's view: its state first, then every field as KEY / VALUE, attachments one per line.
std::string render_plugin(const nlohmann::json& plugin);

}  // namespace ballast::tools

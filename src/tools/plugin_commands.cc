#include "tools/plugin_commands.h"

#include <CLI/CLI.hpp>

#include "tools/human_output.h"
#include "tools/table_printer.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

// "mail.in (hold), mail.bulk (reject, runtime)".
std::string attachments_text(const json& plugin) {
  std::string text;
  for (const auto& attachment : array_field(plugin, "attachments")) {
    if (!text.empty()) text += ", ";
    text += cell_text(field(attachment, "queue"));
    std::string details =
        field(attachment, "policy").is_string() ? cell_text(field(attachment, "policy")) : "";
    if (cell_text(field(attachment, "source")) == "runtime")
      details += details.empty() ? "runtime" : ", runtime";
    if (!details.empty()) text += " (" + details + ")";
  }
  return text.empty() ? "-" : text;
}

}  // namespace

PluginCommands::PluginCommands(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* plugin = app.add_subcommand(
      "plugin", "List, show, attach, detach, reload, disable or enable plug-ins (docs/plugins.md)");
  plugin->require_subcommand(1);
  CLI::App* list = plugin->add_subcommand("list", "List the plug-ins with their state and queues");
  list->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) { return this->list(api, console); };
  });
  CLI::App* show = plugin->add_subcommand("show", "Show one plug-in: state, process, queues, counters");
  show->add_option("name", name_, "Plug-in name")->required();
  show->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) { return this->show(api, console); };
  });
  add_queue_change(*plugin, selected, "attach", "Attach a plug-in to a queue (stored; survives a restart)");
  add_queue_change(*plugin, selected, "detach", "Detach a plug-in from a queue (stored; survives a restart)");
  const auto add = [&](const char* action, const char* description) {
    CLI::App* command = plugin->add_subcommand(action, description);
    command->add_option("name", name_, "Plug-in name")->required();
    command->callback([this, &selected, action = std::string(action)] {
      selected = [this, action](ApiClient& api, Console& console) { return change(api, console, action); };
    });
  };
  add("reload", "Start the plug-in's command again beside the old process and switch once it handshakes");
  add("disable", "Stop the plug-in until enabled; its queues follow their policy (stored)");
  add("enable", "Start a disabled plug-in again (stored)");
}

void PluginCommands::add_queue_change(CLI::App& plugin, CommandAction& selected, const char* action,
                                      const char* description) {
  CLI::App* command = plugin.add_subcommand(action, description);
  command->add_option("name", name_, "Plug-in name")->required();
  command->add_option("--queue", queue_, "Queue of vhost \"/\"")->required();
  if (std::string_view(action) == "attach") {
    command
        ->add_option("--policy", policy_,
                     "For a filter: what its publishes get while it is down or too slow (default hold)")
        ->check(CLI::IsMember({"hold", "bypass", "reject"}));
  }
  command->callback([this, &selected, action = std::string(action)] {
    selected = [this, action](ApiClient& api, Console& console) { return change(api, console, action); };
  });
}

ExitCode PluginCommands::list(ApiClient& api, Console& console) const {
  return print_answer(api.list_plugins(), globals_, console, render_plugin_list);
}

ExitCode PluginCommands::show(ApiClient& api, Console& console) const {
  return print_answer(api.show_plugin(name_), globals_, console, render_plugin);
}

ExitCode PluginCommands::change(ApiClient& api, Console& console, const std::string& action) const {
  json body = json::object();
  if (action == "attach" || action == "detach") body["queue"] = queue_;
  if (action == "attach" && !policy_.empty()) body["policy"] = policy_;
  const bool with_body = action == "attach" || action == "detach";
  return print_answer(api.change_plugin(name_, action, with_body ? &body : nullptr), globals_, console,
                      [&](const json& plugin) {
                        const std::string done = action == "attach" ? fmt::format("attached to {}", queue_)
                                                 : action == "detach"
                                                     ? fmt::format("detached from {}", queue_)
                                                 : action == "reload" ? std::string("reloaded")
                                                                      : action + "d";  // disabled, enabled
                        return fmt::format("plug-in {} {}\n{}", name_, done, render_plugin(plugin));
                      });
}

std::string render_plugin_list(const json& answer) {
  TablePrinter table({{"NAME"}, {"KIND"}, {"STATE"}, {"PID", Align::kRight}, {"QUEUES"}, {"REASON"}});
  for (const auto& plugin : array_field(answer, "plugins")) {
    table.add_row({cell_text(field(plugin, "name")), cell_text(field(plugin, "kind")),
                   cell_text(field(plugin, "state")), cell_text(field(plugin, "pid")),
                   attachments_text(plugin), cell_text(field(plugin, "reason"))});
  }
  return table.render();
}

std::string render_plugin(const json& plugin) {
  json flat = plugin.is_object() ? plugin : json::object();
  flat.erase("attachments");
  flat["queues"] = attachments_text(plugin);
  return render_key_values(flat);
}

}  // namespace ballast::tools

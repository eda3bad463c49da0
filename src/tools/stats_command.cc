#include "tools/stats_command.h"

#include <CLI/CLI.hpp>

#include "tools/human_output.h"

namespace ballast::tools {

StatsCommand::StatsCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* stats = app.add_subcommand("stats", "Broker-wide counts, sizes and rates");
  stats->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) {
      return print_answer(api.stats(), globals_, console, render_key_values);
    };
  });
}

}  // namespace ballast::tools

#include "tools/cli.h"

#include <CLI/CLI.hpp>

#include "tools/doctor_command.h"
#include "tools/journal_commands.h"
#include "tools/peek_command.h"
#include "tools/plugin_commands.h"
#include "tools/queue_commands.h"
#include "tools/receive_command.h"
#include "tools/send_command.h"
#include "tools/stats_command.h"
#include "tools/version.h"

namespace ballast::tools {
namespace {

void add_global_options(CLI::App& app, GlobalOptions& globals) {
  app.add_option("--server", globals.server,
                 fmt::format("ballastd's HTTP address (else BALLAST_SERVER, else {})", kDefaultServer));
  app.add_option("--vhost", globals.vhost, "Virtual host of the queues")->capture_default_str();
  app.add_flag("--json", globals.json_output, "Print the server's JSON, for scripts");
  app.set_version_flag("--version", fmt::format("ballast {}", kBallastVersion), "Print the version and exit");
}

// CLI11 reports --help, --version and usage errors by throwing; it prints them here.
ExitCode finish_early(CLI::App& app, const CLI::ParseError& error, Console& console) {
  const int cli11_status = app.exit(error, console.out, console.err);
  return cli11_status == 0 ? ExitCode::kOk : ExitCode::kUsage;
}

}  // namespace

std::string help_footer() {
  return "Exit status:\n"
         "  0  success\n"
         "  1  the server refused the request; its error code, message and fix are printed\n"
         "  2  usage error: bad arguments or options\n"
         "  3  cannot reach the server: is ballastd running? Check --server / BALLAST_SERVER\n"
         "  4  journal verify: the journal is damaged; each damaged range is printed\n"
         "  5  journal verify / salvage: the data directory cannot be used (a running ballastd\n"
         "     holds it, permission, I/O); the error code, message and fix are printed\n"
         "  6  doctor: at least one check failed; each is printed with its fix\n"
         "\n"
         "Documentation: docs/cli.md";
}

ExitCode run_cli(int argc, const char* const* argv, const CliEnvironment& environment, Console& console) {
  CLI::App app("ballast: the command line for the Ballast message-queue server", "ballast");
  app.fallthrough();  // global options may also follow the subcommand
  app.require_subcommand(1);
  app.footer(help_footer());
  GlobalOptions globals;
  globals.server = environment.server.value_or(std::string(kDefaultServer));
  add_global_options(app, globals);
  CommandAction selected;
  QueueCommands queue(app, globals, selected);
  PluginCommands plugin(app, globals, selected);
  SendCommand send(app, globals, selected);
  ReceiveCommand receive(app, globals, selected);
  PeekCommand peek(app, globals, selected);
  StatsCommand stats(app, globals, selected);
  JournalCommands journal(app, globals, selected);
  DoctorCommand doctor(app, globals, selected);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return finish_early(app, error, console);
  }
  BALLAST_CHECK(static_cast<bool>(selected), "a subcommand was parsed but selected no action");
  auto url = parse_server_url(globals.server);
  if (!url) return report_usage_error(url.error(), console.err);
  ApiClient api(HttpClient(std::move(*url), kRequestTimeout), globals.vhost);
  return selected(api, console);
}

}  // namespace ballast::tools

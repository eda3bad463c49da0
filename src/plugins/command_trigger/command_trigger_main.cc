// command-trigger: a shipped trigger plug-in (docs/plugins.md, "command-trigger"), MSMQ
// Triggers' "run a program with the message". For each message stored in its queues it runs the
// `command` option's argv with the body on stdin and the metadata in BALLAST_* environment
// variables; exit 0 is done, exit 75 or a run past timeout_ms is retry, anything else is failed.
// The command's stdout and stderr go to this plug-in's stderr (the broker's log, plugin.stderr).
// Calls run one at a time and pings wait meanwhile: keep the trigger's call_timeout_ms above
// timeout_ms x concurrency. Built on the plug-in client library.
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ballast/plugin.h"
#include "plugins/command_trigger/command_environment.h"
#include "plugins/command_trigger/command_outcome.h"
#include "plugins/command_trigger/command_runner.h"
#include "plugins/command_trigger/command_settings.h"

extern char** environ;

namespace {

constexpr std::string_view kVersion = "1.0.0";

std::vector<std::string> own_environment() {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) entries.emplace_back(*entry);
  return entries;
}

}  // namespace

// The broker stops a plug-in with SIGTERM (SIGKILL after a grace period) sent to the plug-in's
// process group; the command runs in a group of its own, so it is killed here.
extern "C" void on_terminate(int) {
  ballast::command_trigger::kill_running_command();
  ::_exit(128 + SIGTERM);
}

int main() {
  // A command that does not read its input closes the pipe: that is an EPIPE, not our death.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGTERM, on_terminate);
  using namespace ballast::command_trigger;
  const std::vector<std::string> inherited = own_environment();
  CommandSettings settings;
  ballast::plugin::Handlers handlers;
  handlers.version = std::string(kVersion);
  handlers.on_hello = [&](const ballast::plugin::Hello& hello) -> std::optional<std::string> {
    auto parsed = parse_command_settings(hello.name, hello.options);
    if (!parsed) return parsed.error().describe();
    settings = std::move(*parsed);
    return std::nullopt;
  };
  handlers.on_trigger = [&](const ballast::plugin::TriggerCall& call) {
    const CommandRun run =
        run_command(settings, call.message.body, command_environment(call, inherited), STDERR_FILENO);
    return outcome_for(run, settings);
  };
  return ballast::plugin::run(handlers);
}

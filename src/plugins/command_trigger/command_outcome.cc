#include "plugins/command_trigger/command_outcome.h"

#include <string.h>

#include <fmt/format.h>

namespace ballast::command_trigger {

namespace {

std::string with_stderr(std::string reason, const CommandRun& run) {
  if (run.stderr_line.empty()) return reason + "; it wrote nothing to stderr";
  return fmt::format("{}; its last stderr line: {}", reason, run.stderr_line);
}

}  // namespace

plugin::Outcome outcome_for(const CommandRun& run, const CommandSettings& settings) {
  const std::string command = command_text(settings.argv);
  switch (run.ending) {
    case CommandRun::Ending::kExited:
      if (run.status == 0) return plugin::Outcome::done();
      if (run.status == kExitTempFail) {
        return plugin::Outcome::retry(with_stderr(
            fmt::format("command \"{}\" exited with status 75 (EX_TEMPFAIL: try again)", command), run));
      }
      return plugin::Outcome::failed(
          with_stderr(fmt::format("command \"{}\" exited with status {}", command, run.status), run));
    case CommandRun::Ending::kSignalled:
      return plugin::Outcome::failed(with_stderr(fmt::format("command \"{}\" was killed by signal {} ({})",
                                                             command, run.status, ::strsignal(run.status)),
                                                 run));
    case CommandRun::Ending::kTimedOut:
      return plugin::Outcome::retry(with_stderr(
          fmt::format(
              "command \"{}\" still ran after timeout_ms = {}: its process group was killed (SIGKILL)",
              command, settings.timeout.count()),
          run));
    case CommandRun::Ending::kNotStarted:
      return plugin::Outcome::retry(
          fmt::format("command \"{}\" could not be started: {}", command,
                      std::error_code(run.status, std::generic_category()).message()));
  }
  return plugin::Outcome::failed(fmt::format("command \"{}\": unknown ending", command));
}

}  // namespace ballast::command_trigger

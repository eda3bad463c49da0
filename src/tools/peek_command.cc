#include "tools/peek_command.h"

#include <CLI/CLI.hpp>

#include "tools/decimal_validator.h"
#include "tools/human_output.h"
#include "tools/receive_command.h"

namespace ballast::tools {

PeekCommand::PeekCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* peek = app.add_subcommand("peek", "Show ready messages without consuming them");
  peek->add_option("queue", queue_, "Queue name")->required();
  peek->add_option("--count", count_, "Show at most this many messages")
      ->transform(decimal_number())
      ->capture_default_str();
  peek->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) { return run(api, console); };
  });
}

ExitCode PeekCommand::run(ApiClient& api, Console& console) const {
  auto answer = api.peek(queue_, count_);
  if (!answer) return report_error(answer.error(), console.err);
  const auto& messages = array_field(*answer, "messages");
  if (print_messages(messages, globals_, console.out) < messages.size()) {
    return report_error(Error(ErrorCode::kInvalidArgument, "could not write every peeked message to stdout",
                              "check where stdout goes (a full disk, a closed pipe)"),
                        console.err);
  }
  return ExitCode::kOk;
}

}  // namespace ballast::tools

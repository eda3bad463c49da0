#include "tools/receive_command.h"

#include <ostream>

#include <CLI/CLI.hpp>

#include "tools/decimal_validator.h"
#include "tools/human_output.h"
#include "tools/json_text.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

json receipts_of(const json& messages, size_t first, size_t end) {
  json receipts = json::array();
  for (size_t i = first; i < end; ++i) {
    const auto found = messages[i].find("receipt");
    if (found != messages[i].end()) receipts.push_back(*found);
  }
  return receipts;
}

Error output_failed(size_t printed, size_t received) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("could write only {} of {} received messages to stdout; the {} "
                           "printed were acked and the rest returned to the queue",
                           printed, received, printed),
               "check where stdout goes (a full disk, a closed pipe) and receive again");
}

}  // namespace

size_t print_messages(const json& messages, const GlobalOptions& globals, std::ostream& out) {
  size_t printed = 0;
  for (const auto& message : messages) {
    out << (globals.json_output ? json_text(message) : message_body_text(message)) << "\n";
    out.flush();
    if (!out) break;
    ++printed;
  }
  return printed;
}

ReceiveCommand::ReceiveCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* receive = app.add_subcommand("receive", "Receive messages, print them and ack what was printed");
  receive->add_option("queue", queue_, "Queue name")->required();
  receive->add_option("--count", request_.max, "Receive at most this many messages")
      ->transform(decimal_number())
      ->capture_default_str();
  receive->add_option("--wait", request_.wait_seconds, "Wait up to this many seconds for a first message")
      ->transform(decimal_number())
      ->capture_default_str();
  receive->add_flag("--no-ack", no_ack_,
                    "Leave the messages leased; they come back after the visibility timeout");
  receive
      ->add_option("--visibility-timeout-seconds", request_.visibility_timeout_seconds,
                   "Lease length (the queue's default when not given)")
      ->transform(decimal_number());
  receive->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) { return run(api, console); };
  });
}

ExitCode ReceiveCommand::run(ApiClient& api, Console& console) const {
  auto answer = api.receive(queue_, request_);
  if (!answer) return report_error(answer.error(), console.err);
  const json& messages = array_field(*answer, "messages");
  const size_t printed = print_messages(messages, globals_, console.out);
  if (no_ack_) return ExitCode::kOk;
  return settle(api, messages, printed, console);
}

ExitCode ReceiveCommand::settle(ApiClient& api, const json& messages, size_t printed,
                                Console& console) const {
  const json acked = receipts_of(messages, 0, printed);
  if (!acked.empty()) {
    auto ack = api.ack(queue_, acked);
    if (!ack) {
      return report_error(ack.error().with_context(fmt::format(
                              "acking the {} printed messages (they will be delivered again once their "
                              "visibility timeout passes)",
                              acked.size())),
                          console.err);
    }
  }
  if (printed == messages.size()) return ExitCode::kOk;
  auto nack = api.nack(queue_, receipts_of(messages, printed, messages.size()), Requeue::kYes);
  if (!nack) return report_error(nack.error(), console.err);
  return report_error(output_failed(printed, messages.size()), console.err);
}

}  // namespace ballast::tools

#include "tools/send_command.h"

#include <fstream>
#include <ostream>

#include <CLI/CLI.hpp>

#include "tools/decimal_validator.h"
#include "tools/human_output.h"
#include "tools/json_text.h"
#include "tools/line_batcher.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

Error id_names_one_message(const std::string& source_name) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("--id names one message, but {} holds more than one line", source_name),
               "leave out --id to let the server assign one per message, or send that one "
               "message as the BODY argument");
}

}  // namespace

SendCommand::SendCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* send = app.add_subcommand(
      "send", "Send the BODY argument as one message; without it, each line of --file or stdin");
  send->add_option("queue", queue_, "Queue name")->required();
  CLI::Option* body = send->add_option("body", body_, "Message body");
  send->add_option("--file", file_, "Read messages from this file, one per line")->excludes(body);
  send->add_option("--header", options_.headers, "Header NAME=VALUE (repeatable)");
  send->add_option("--content-type", options_.content_type, "Content type of the body");
  send->add_option("--priority", options_.priority, "Priority, 0 (default) to 9 (first)")
      ->transform(decimal_number());
  send->add_option("--id", options_.id, "Message id, for idempotent publish (one message only)");
  send->add_option("--delay-seconds", options_.delay_seconds, "Deliver no sooner than this")
      ->transform(decimal_number());
  send->add_option("--ttl-seconds", options_.ttl_seconds, "Expire after this long")
      ->transform(decimal_number());
  send->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) { return run(api, console); };
  });
}

ExitCode SendCommand::run(ApiClient& api, Console& console) const {
  auto checked = check_message_options(options_);
  if (!checked) return report_usage_error(checked.error(), console.err);
  if (body_) {
    Tally tally;
    if (auto failed = publish(api, {*body_}, tally, console)) return *failed;
    print_summary(tally, console);
    return ExitCode::kOk;
  }
  if (file_.empty()) return send_lines(api, console.in, "stdin", console);
  std::ifstream file(file_, std::ios::binary);
  if (!file) {
    return report_usage_error(Error(ErrorCode::kInvalidArgument, fmt::format("cannot open --file {}", file_),
                                    "check the path and that you may read it"),
                              console.err);
  }
  return send_lines(api, file, file_, console);
}

ExitCode SendCommand::send_lines(ApiClient& api, std::istream& input, const std::string& source_name,
                                 Console& console) const {
  LineBatcher batcher(input, source_name, kMaxBatch);
  Tally tally;
  while (true) {
    auto batch = batcher.next_batch();
    if (!batch) {
      return report_usage_error(
          batch.error().with_context(fmt::format("after sending {} messages", tally.sent)), console.err);
    }
    if (batch->empty()) break;
    if (!options_.id.empty() && (tally.sent > 0 || batch->size() > 1)) {
      return report_usage_error(id_names_one_message(source_name), console.err);
    }
    if (auto failed = publish(api, *batch, tally, console)) return *failed;
  }
  print_summary(tally, console);
  return ExitCode::kOk;
}

std::optional<ExitCode> SendCommand::publish(ApiClient& api, const std::vector<std::string>& bodies,
                                             Tally& tally, Console& console) const {
  auto answer = api.publish(queue_, messages_json(bodies, options_));
  if (!answer) {
    if (tally.sent == 0) return report_error(answer.error(), console.err);
    return report_error(answer.error().with_context(fmt::format(
                            "{} messages were sent (and stay sent) before this batch failed", tally.sent)),
                        console.err);
  }
  if (globals_.json_output) console.out << json_text(*answer) << "\n";
  for (const auto& message : array_field(*answer, "messages")) {
    ++tally.sent;
    if (message.is_object() && message.find("duplicate") != message.end() && message["duplicate"] == true) {
      ++tally.duplicates;
    }
  }
  if (const auto found = answer->find("durability"); found != answer->end()) {
    tally.durability = cell_text(*found);
  }
  return std::nullopt;
}

void SendCommand::print_summary(const Tally& tally, Console& console) const {
  if (globals_.json_output) return;
  console.out << fmt::format("sent {} message{} to queue {}", tally.sent, tally.sent == 1 ? "" : "s", queue_);
  if (tally.duplicates > 0) {
    console.out << fmt::format(", {} of them duplicates of ids already seen", tally.duplicates);
  }
  if (!tally.durability.empty()) console.out << fmt::format(" (durability: {})", tally.durability);
  console.out << "\n";
}

}  // namespace ballast::tools

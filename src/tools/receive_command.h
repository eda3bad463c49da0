#pragma once
// `ballast receive QUEUE`: receives up to --count messages (long-polling up to --wait seconds),
// prints them (bodies one per line, or one JSON object per line with --json) and then, unless
// --no-ack, acks the ones it printed. Should writing the output fail, the messages not printed
// are nacked back to the queue.
// The constructor registers the subcommand on `app`; when it is parsed, its action is stored in
// `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks refer
// to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

// Writes each message in `messages` on its own line of `out` (its body, or its JSON object when
// `globals.json_output`), flushing after each, and returns how many were written before the
// stream failed.
size_t print_messages(const nlohmann::json& messages, const GlobalOptions& globals, std::ostream& out);

class ReceiveCommand {
 public:
  ReceiveCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  ReceiveCommand(const ReceiveCommand&) = delete;
  ReceiveCommand& operator=(const ReceiveCommand&) = delete;

 private:
  ExitCode run(ApiClient& api, Console& console) const;
  // Acks the first `printed` messages and nacks the rest back to the queue.
  ExitCode settle(ApiClient& api, const nlohmann::json& messages, size_t printed, Console& console) const;

  const GlobalOptions& globals_;
  std::string queue_;
  ReceiveRequest request_;
  bool no_ack_ = false;
};

}  // namespace ballast::tools

#pragma once
// `ballast send QUEUE [BODY]`: publishes the BODY argument as one message; without it, every
// line of --file F or else of stdin as one message, in batches of up to kMaxBatch per request.
// The constructor registers the subcommand on `app`; when it is parsed, its action is stored in
// `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks refer
// to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "tools/command_context.h"
#include "tools/message_options.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class SendCommand {
 public:
  // Messages per publish request when reading lines.
  static constexpr size_t kMaxBatch = 500;

  SendCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  SendCommand(const SendCommand&) = delete;
  SendCommand& operator=(const SendCommand&) = delete;

 private:
  // What the server confirmed so far, for the summary and for partial failures.
  struct Tally {
    size_t sent = 0;
    size_t duplicates = 0;
    std::string durability;
  };

  ExitCode run(ApiClient& api, Console& console) const;
  ExitCode send_lines(ApiClient& api, std::istream& input, const std::string& source_name,
                      Console& console) const;
  // Publishes one batch; on failure reports the error, saying how many were sent before it.
  std::optional<ExitCode> publish(ApiClient& api, const std::vector<std::string>& bodies, Tally& tally,
                                  Console& console) const;
  void print_summary(const Tally& tally, Console& console) const;

  const GlobalOptions& globals_;
  std::string queue_;
  std::optional<std::string> body_;
  std::string file_;
  MessageOptions options_;
};

}  // namespace ballast::tools

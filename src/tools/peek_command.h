#pragma once
// `ballast peek QUEUE [--count N]`: shows up to N ready messages without consuming them
// (bodies one per line, or one JSON object per line with --json).
// The constructor registers the subcommand on `app`; when it is parsed, its action is stored in
// `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks refer
// to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <cstdint>
#include <string>

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class PeekCommand {
 public:
  static constexpr uint32_t kDefaultCount = 10;

  PeekCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  PeekCommand(const PeekCommand&) = delete;
  PeekCommand& operator=(const PeekCommand&) = delete;

 private:
  ExitCode run(ApiClient& api, Console& console) const;

  const GlobalOptions& globals_;
  std::string queue_;
  uint32_t count_ = kDefaultCount;
};

}  // namespace ballast::tools

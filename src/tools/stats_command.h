#pragma once
// `ballast stats`: the broker-wide counts and rates, as a KEY / VALUE table of whatever the
// server reports, or its JSON with --json.
// The constructor registers the subcommand on `app`; when it is parsed, its action is stored in
// `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks refer
// to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class StatsCommand {
 public:
  StatsCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  StatsCommand(const StatsCommand&) = delete;
  StatsCommand& operator=(const StatsCommand&) = delete;

 private:
  const GlobalOptions& globals_;
};

}  // namespace ballast::tools

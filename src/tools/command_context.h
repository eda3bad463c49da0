#pragma once
// What every `ballast` command shares: the global options, the streams it talks to the user
// through, and the action a parsed subcommand leaves behind to be run once parsing succeeded.
// Not thread-safe: owned by one run_cli() call.

#include <functional>
#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/api_client.h"
#include "tools/exit_code.h"

namespace ballast::tools {

struct GlobalOptions {
  std::string server;        // --server, else BALLAST_SERVER, else http://127.0.0.1:8080
  std::string vhost = "/";   // --vhost
  bool json_output = false;  // --json: print the server's JSON instead of tables and bodies
};

// The user's streams; they outlive the command.
struct Console {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// Runs the chosen command against the server; its options were bound during parsing.
using CommandAction = std::function<ExitCode(ApiClient& api, Console& console)>;

// Renders a successful answer for people.
using HumanRenderer = std::function<std::string(const nlohmann::json& answer)>;

// The common ending of a command with one request: reports a failed `answer` on console.err;
// prints a successful one on console.out, as one line of JSON with --json, else as `render`
// makes it.
ExitCode print_answer(const Result<nlohmann::json>& answer, const GlobalOptions& globals, Console& console,
                      const HumanRenderer& render);

}  // namespace ballast::tools

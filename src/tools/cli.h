#pragma once
// The `ballast` command line: parses the arguments with CLI11, runs the one command they name
// against ballastd's HTTP API, and returns the process exit status (see ExitCode and the
// footer of `ballast --help`). Help and version go to console.out; usage errors, and errors
// from the server or the network, go to console.err. Commands and options: docs/cli.md.
// Not thread-safe: one call at a time; it reads no environment or other global state itself.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "tools/command_context.h"
#include "tools/exit_code.h"

namespace ballast::tools {

inline constexpr std::string_view kDefaultServer = "http://127.0.0.1:8080";
// Per request, connecting included; longer than the server's longest long poll (20 s).
inline constexpr std::chrono::seconds kRequestTimeout{60};

// What the CLI takes from its environment; main() fills it in.
struct CliEnvironment {
  std::optional<std::string> server;  // BALLAST_SERVER, when set and not empty
};

// The text after the options in `ballast --help`: the exit statuses.
std::string help_footer();

// `argv[0]` is the program name, as in main().
ExitCode run_cli(int argc, const char* const* argv, const CliEnvironment& environment, Console& console);

}  // namespace ballast::tools

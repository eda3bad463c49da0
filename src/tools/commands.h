#pragma once
// The `ballast` commands: queue create|list|show|delete|purge, send, receive, peek, stats.
// run_cli() parses argv with CLI11, runs one command against the HTTP API and returns the
// process exit status: 0 ok, 1 the server refused, 2 usage, 3 cannot reach the server.
// Not thread-safe: one call per process.

#include <iosfwd>

namespace ballast::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

int run_cli(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace ballast::tools

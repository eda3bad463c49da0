#pragma once
// The `ballast` process exit statuses, and how an Error reaches the user: on stderr as
//   ballast: CODE: message
//   Fix: fix
// with the exit status that says who failed.
// Thread-safe: pure functions (writing to a stream the caller owns).

#include <iosfwd>
#include <string>

#include "util/result.h"

namespace ballast::tools {

enum class ExitCode : int {
  kOk = 0,
  kRefused = 1,      // the server refused the request (or the CLI could not write its output)
  kUsage = 2,        // bad arguments or options, reported by CLI11 or by the CLI itself
  kUnreachable = 3,  // the server could not be reached (SERVER_UNREACHABLE)
  kDamaged = 4,      // `ballast journal verify` found damage (printed on stdout)
  kLocalError = 5,   // a data directory could not be used: locked by a ballastd, permission, I/O
  kCheckFailed = 6,  // `ballast doctor` found at least one failing check (printed on stdout)
};

// The two lines above, each ending in '\n'; no "Fix:" line when the fix is empty.
std::string format_error(const Error& error);

// The status for an error from the server or the network: kUnreachable for
// SERVER_UNREACHABLE, kRefused for anything else.
ExitCode exit_code_for(const Error& error);

// Writes format_error(error) to `err` and returns exit_code_for(error).
ExitCode report_error(const Error& error, std::ostream& err);

// Writes format_error(error) to `err` and returns kUsage: for mistakes in the command line that
// the CLI finds itself (a bad --server URL, a --header without '=', an unreadable --file).
ExitCode report_usage_error(const Error& error, std::ostream& err);

}  // namespace ballast::tools

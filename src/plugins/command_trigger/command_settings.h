#pragma once
// The options of the command-trigger plug-in (docs/plugins.md, "command-trigger"), as the
// broker's hello hands them over (strings of the [[plugins]] table's `options`):
//   command     = '["/opt/hooks/on-order.sh", "--fast"]'   a JSON array of strings: the argv, required
//   timeout_ms  = "10000"                                   deadline of one run, 10..600000
//   working_dir = "/var/lib/hooks"                          optional: an existing directory
// Thread-safe: pure functions (parse_command_settings looks at the file system).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "util/result.h"

namespace ballast::command_trigger {

struct CommandSettings {
  // argv[0]: an absolute path, a path relative to working_dir (with a '/'), or a name on PATH.
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{10000};
  std::string working_dir;  // empty: the plug-in's own working directory
};

// The settings of the plug-in named `plugin_name` from its options. Fails with CONFIG_INVALID
// naming the option, its value and the fix: command missing, not a JSON array of non-empty
// strings, or naming no executable file; timeout_ms not a whole number in range; working_dir
// not an absolute path to a directory; an unknown option (with the nearest valid one).
Result<CommandSettings> parse_command_settings(const std::string& plugin_name,
                                               const std::map<std::string, std::string>& options);

// The argv as one line for reasons and logs: the words joined by spaces, at most 200 bytes.
std::string command_text(const std::vector<std::string>& argv);

}  // namespace ballast::command_trigger

#include "plugins/command_trigger/command_settings.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "util/nearest_name.h"

namespace ballast::command_trigger {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kMinTimeoutMs = 10;
constexpr uint32_t kMaxTimeoutMs = 600000;
constexpr size_t kMaxCommandTextBytes = 200;

Error invalid(const std::string& plugin_name, std::string what, std::string fix) {
  return Error(ErrorCode::kConfigInvalid, fmt::format("plug-in \"{}\": {}", plugin_name, what),
               fmt::format("{} in the options of its [[plugins]] table", fix));
}

bool is_executable_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

// Where argv[0] would be found: itself (relative to working_dir) if it holds a '/', else the
// first executable file of that name in a PATH directory.
bool command_found(const std::string& program, const std::string& working_dir) {
  if (program.find('/') != std::string::npos) {
    const fs::path path(program);
    return is_executable_file(path.is_absolute() || working_dir.empty() ? path
                                                                        : fs::path(working_dir) / path);
  }
  const char* search = std::getenv("PATH");
  std::string_view dirs = search != nullptr ? search : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty() && is_executable_file(fs::path(dir) / program)) return true;
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
  }
  return false;
}

Result<std::vector<std::string>> parse_argv(const std::string& plugin_name, const std::string& text) {
  const std::string fix =
      "write command = '[\"/path/to/program\", \"arg\"]' (a JSON array of strings, in a TOML literal "
      "string)";
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_array() || parsed.empty()) {
    return invalid(plugin_name, fmt::format("the option command = {} is not a non-empty JSON array", text),
                   fix);
  }
  std::vector<std::string> argv;
  for (const auto& word : parsed) {
    if (!word.is_string() || (argv.empty() && word.get<std::string>().empty())) {
      return invalid(
          plugin_name,
          fmt::format("the option command = {} holds {} where a string is needed", text, word.dump()), fix);
    }
    argv.push_back(word.get<std::string>());
  }
  return argv;
}

Result<std::chrono::milliseconds> parse_timeout(const std::string& plugin_name, const std::string& text) {
  uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < kMinTimeoutMs ||
      value > kMaxTimeoutMs) {
    return invalid(
        plugin_name,
        fmt::format("the option timeout_ms = \"{}\" is not a whole number of milliseconds in {}..{}", text,
                    kMinTimeoutMs, kMaxTimeoutMs),
        "set timeout_ms = \"10000\" (a string, as every option is)");
  }
  return std::chrono::milliseconds(value);
}

Status check_working_dir(const std::string& plugin_name, const std::string& dir) {
  std::error_code error;
  if (fs::path(dir).is_absolute() && fs::is_directory(dir, error)) return ok_status();
  return invalid(plugin_name,
                 fmt::format("the option working_dir = \"{}\" is not an absolute path to a directory{}", dir,
                             error ? " (" + error.message() + ")" : std::string()),
                 "create the directory, or correct or remove working_dir");
}

Status check_option_names(const std::string& plugin_name, const std::map<std::string, std::string>& options) {
  static const std::vector<std::string_view> kNames = {"command", "timeout_ms", "working_dir"};
  for (const auto& [name, value] : options) {
    if (std::find(kNames.begin(), kNames.end(), name) != kNames.end()) continue;
    const auto nearest = nearest_name(name, kNames, 4);
    return invalid(plugin_name, fmt::format("unknown option \"{}\"", name),
                   nearest ? fmt::format("write {} instead", *nearest)
                           : std::string("use only command, timeout_ms and working_dir"));
  }
  return ok_status();
}

}  // namespace

Result<CommandSettings> parse_command_settings(const std::string& plugin_name,
                                               const std::map<std::string, std::string>& options) {
  if (Status names = check_option_names(plugin_name, options); !names) return std::move(names).error();
  CommandSettings settings;
  if (auto dir = options.find("working_dir"); dir != options.end()) {
    if (Status checked = check_working_dir(plugin_name, dir->second); !checked)
      return std::move(checked).error();
    settings.working_dir = dir->second;
  }
  if (auto timeout = options.find("timeout_ms"); timeout != options.end()) {
    auto parsed = parse_timeout(plugin_name, timeout->second);
    if (!parsed) return std::move(parsed).error();
    settings.timeout = *parsed;
  }
  auto command = options.find("command");
  if (command == options.end()) {
    return invalid(plugin_name, "the option command is missing",
                   "add command = '[\"/path/to/program\", \"arg\"]' (a JSON array of strings)");
  }
  auto argv = parse_argv(plugin_name, command->second);
  if (!argv) return std::move(argv).error();
  settings.argv = std::move(*argv);
  if (!command_found(settings.argv.front(), settings.working_dir)) {
    return invalid(plugin_name,
                   fmt::format("the option command names \"{}\", which is not an executable file (looked {})",
                               settings.argv.front(),
                               settings.argv.front().find('/') != std::string::npos
                                   ? "relative to working_dir, else the plug-in's working directory"
                                   : "in the directories of PATH"),
                   "install the program, make it executable for the broker's user (chmod +x), or give "
                   "its absolute path");
  }
  return settings;
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& word : argv) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  if (text.size() > kMaxCommandTextBytes) text = text.substr(0, kMaxCommandTextBytes - 3) + "...";
  return text;
}

}  // namespace ballast::command_trigger

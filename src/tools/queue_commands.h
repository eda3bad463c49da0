#pragma once
// `ballast queue create|list|show|delete|purge`.
// The constructor registers the subcommands on `app`; when one is parsed, its action is stored
// in `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks
// refer to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class QueueCommands {
 public:
  QueueCommands(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  QueueCommands(const QueueCommands&) = delete;
  QueueCommands& operator=(const QueueCommands&) = delete;

  // The PUT body for `queue create`: only the settings given on the command line, under the
  // API's key names (--visibility-timeout-seconds is default_visibility_timeout_seconds).
  nlohmann::json settings_json() const;

 private:
  struct Settings {
    std::optional<uint64_t> max_length;
    std::optional<uint64_t> max_bytes;
    std::optional<std::string> overflow;
    std::optional<uint32_t> message_ttl_seconds;
    std::optional<uint32_t> delivery_limit;
    std::optional<std::string> dead_letter_queue;
    std::optional<uint32_t> dedup_window_seconds;
    std::optional<uint32_t> visibility_timeout_seconds;
  };

  void add_create(CLI::App& queue, CommandAction& selected);
  ExitCode create(ApiClient& api, Console& console) const;
  ExitCode list(ApiClient& api, Console& console) const;
  ExitCode show(ApiClient& api, Console& console) const;
  ExitCode remove(ApiClient& api, Console& console) const;
  ExitCode purge(ApiClient& api, Console& console) const;

  const GlobalOptions& globals_;
  std::string name_;
  Settings settings_;
};

}  // namespace ballast::tools

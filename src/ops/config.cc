#include "ops/config.h"

#include "ops/plugins_config.h"
#include "util/nearest_name.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <variant>

namespace ballast::ops {

namespace {

// A parser's description on one line: control characters (toml++ quotes the character it
// saw, which may be a newline) are escaped, so each problem stays one "path:line" line.
std::string on_one_line(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

using Member = std::variant<std::string Config::*, uint64_t Config::*, bool Config::*>;

struct KeySpec {
  std::string_view name;
  Member member;
  uint64_t min = 0;
  uint64_t max = std::numeric_limits<uint64_t>::max();
  bool reloadable = false;
  std::vector<std::string_view> choices = {};
};

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {"server.http_listen", &Config::http_listen},
      {"server.insecure_remote", &Config::insecure_remote},
      {"server.http_threads", &Config::http_threads, 1, 64},
      {"server.log_level", &Config::log_level, 0, 0, true, {"trace", "debug", "info", "warn", "error"}},
      {"server.user", &Config::user},
      {"storage.data_dir", &Config::data_dir},
      {"storage.segment_size", &Config::segment_size, 1ull << 20, 1ull << 32},
      {"storage.sync_mode", &Config::sync_mode, 0, 0, false, {"always", "interval"}},
      {"storage.sync_interval_ms", &Config::sync_interval_ms, 1, 60000},
      {"storage.commit_window_us", &Config::commit_window_us, 0, 100000},
      {"storage.self_check_interval_ms", &Config::self_check_interval_ms, 10, 3600000},
      {"storage.reserve_bytes", &Config::reserve_bytes, 0, 1ull << 40},
      {"storage.checkpoint_interval_ms", &Config::checkpoint_interval_ms, 100, 3600000},
      {"storage.read_cache_bytes", &Config::read_cache_bytes, 0, 1ull << 40},
      {"limits.max_message_bytes", &Config::max_message_bytes, 1, 1ull << 31},
      {"limits.max_request_bytes", &Config::max_request_bytes, 1024, 1ull << 32},
      {"limits.http_header_timeout_ms", &Config::http_header_timeout_ms, 100, 3600000},
      {"limits.http_body_timeout_ms", &Config::http_body_timeout_ms, 100, 3600000},
      {"limits.max_long_polls", &Config::max_long_polls, 1, 1000000},
      {"limits.max_disk_bytes", &Config::max_disk_bytes, 0, 1ull << 50},
      {"limits.max_memory_bytes", &Config::max_memory_bytes, 0, 1ull << 44},
      {"amqp.listen", &Config::amqp_listen},
      {"amqp.heartbeat_seconds", &Config::amqp_heartbeat_seconds, 0, 3600},
      {"amqp.frame_max", &Config::amqp_frame_max, 4096, 1ull << 20},
      {"amqp.channel_max", &Config::amqp_channel_max, 1, 65535},
      {"amqp.publish_timeout_ms", &Config::amqp_publish_timeout_ms, 100, 3600000},
  };
  return specs;
}

std::string unknown_key_problem(std::string_view key, std::string_view source) {
  std::vector<std::string_view> names;
  for (const KeySpec& spec : key_specs()) names.push_back(spec.name);
  if (auto nearest = nearest_name(key, names, 4)) {
    return fmt::format("{}: unknown key {} (did you mean {}?)", source, key, *nearest);
  }
  return fmt::format("{}: unknown key {} (docs/configuration.md lists every key)", source, key);
}

const KeySpec* find_spec(std::string_view key) {
  for (const KeySpec& spec : key_specs()) {
    if (spec.name == key) return &spec;
  }
  return nullptr;
}

// Sets `spec` from text; returns a problem description or nothing.
std::optional<std::string> apply_text(Config& config, const KeySpec& spec, const std::string& text,
                                      std::string_view source) {
  return std::visit(
      [&](auto member) -> std::optional<std::string> {
        using Value = std::remove_reference_t<decltype(config.*member)>;
        if constexpr (std::is_same_v<Value, std::string>) {
          if (!spec.choices.empty() &&
              std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
            return fmt::format("{}: {} = \"{}\" is not one of {}", source, spec.name, text,
                               fmt::join(spec.choices, ", "));
          }
          config.*member = text;
        } else if constexpr (std::is_same_v<Value, bool>) {
          if (text != "true" && text != "false")
            return fmt::format("{}: {} = {} must be true or false", source, spec.name, text);
          config.*member = text == "true";
        } else {
          uint64_t value = 0;
          auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
          if (error != std::errc() || end != text.data() + text.size()) {
            return fmt::format("{}: {} = {} is not a whole number in {}..{}", source, spec.name, text,
                               spec.min, spec.max);
          }
          if (value < spec.min || value > spec.max) {
            return fmt::format("{}: {} = {} is outside {}..{}", source, spec.name, value, spec.min, spec.max);
          }
          config.*member = value;
        }
        return std::nullopt;
      },
      spec.member);
}

std::optional<std::string> toml_text(const toml::node& node) {
  if (auto text = node.value<std::string>(); text && node.is_string()) return *text;
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  if (node.is_integer()) return fmt::format("{}", *node.value<int64_t>());
  return std::nullopt;
}

void apply_file(Config& config, const std::string& path, std::vector<std::string>& problems) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    problems.push_back(
        fmt::format("{}: the configuration file {}", path,
                    std::filesystem::exists(path, error)
                        ? "is not a regular file"
                        : "does not exist (pass an existing file with --config or BALLAST_CONFIG)"));
    return;
  }
  toml::table parsed;
  try {
    parsed = toml::parse_file(path);
  } catch (const toml::parse_error& error) {  // toml++ reports syntax errors by throwing
    problems.push_back(fmt::format("{}:{}:{}: {}", path, error.source().begin.line,
                                   error.source().begin.column, on_one_line(error.description())));
    return;
  }
  for (const auto& [section, table] : parsed) {
    const std::string section_name(section.str());
    const auto line = section.source().begin.line;
    if (section_name == "plugins") {
      config.plugins = parse_plugin_tables(table, path, problems);
      continue;
    }
    if (!table.is_table()) {
      problems.push_back(unknown_key_problem(section_name, fmt::format("{}:{}", path, line)));
      continue;
    }
    for (const auto& [key, node] : *table.as_table()) {
      const std::string name = fmt::format("{}.{}", section_name, key.str());
      const std::string source = fmt::format("{}:{}", path, key.source().begin.line);
      const KeySpec* spec = find_spec(name);
      if (spec == nullptr) {
        problems.push_back(unknown_key_problem(name, source));
        continue;
      }
      auto text = toml_text(node);
      if (!text) {
        problems.push_back(fmt::format("{}: {} has an unsupported type", source, name));
        continue;
      }
      if (auto problem = apply_text(config, *spec, *text, source)) problems.push_back(*problem);
    }
  }
}

std::string env_name(std::string_view key) {
  std::string name = "BALLAST_";
  for (char c : key)
    name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

void apply_environment(Config& config, const EnvironmentReader& environment,
                       std::vector<std::string>& problems) {
  for (const KeySpec& spec : key_specs()) {
    const std::string name = env_name(spec.name);
    if (auto value = environment(name)) {
      if (auto problem = apply_text(config, spec, *value, fmt::format("environment {}", name)))
        problems.push_back(*problem);
    }
  }
}

void check_consistency(const Config& config, std::vector<std::string>& problems) {
  if (config.segment_size < config.max_message_bytes + (64u << 10)) {
    problems.push_back(
        fmt::format("storage.segment_size = {} must exceed limits.max_message_bytes = {} by at least 64 KiB",
                    config.segment_size, config.max_message_bytes));
  }
  // The journal always holds its current segment, and the limit clears two segments below
  // itself (broker/resource_limits.h): a smaller limit could refuse every publish for good.
  if (config.max_disk_bytes != 0 && config.max_disk_bytes < 4 * config.segment_size) {
    problems.push_back(fmt::format(
        "limits.max_disk_bytes = {} must be 0 (off) or at least four segments, 4 x storage.segment_size = {}",
        config.max_disk_bytes, 4 * config.segment_size));
  }
  // The read cache counts in the resident set: filled, it alone would hold the broker at its limit.
  if (config.max_memory_bytes != 0 && config.max_memory_bytes <= config.read_cache_bytes) {
    problems.push_back(
        fmt::format("limits.max_memory_bytes = {} must be 0 (off) or more than storage.read_cache_bytes = {} "
                    "(the cache is part of the memory counted)",
                    config.max_memory_bytes, config.read_cache_bytes));
  }
}

}  // namespace

ConfigDraft load_config_draft(const std::string& config_file, const FlagValues& flags,
                              const EnvironmentReader& environment) {
  ConfigDraft draft;
  std::string file = config_file;
  if (file.empty()) file = environment("BALLAST_CONFIG").value_or("");
  if (!file.empty()) {
    draft.config.config_file = file;
    apply_file(draft.config, file, draft.problems);
  }
  apply_environment(draft.config, environment, draft.problems);
  for (const auto& [key, value] : flags) {
    const KeySpec* spec = find_spec(key);
    if (spec == nullptr) {
      draft.problems.push_back(unknown_key_problem(key, "flag"));
      continue;
    }
    if (auto problem = apply_text(draft.config, *spec, value, "flag")) draft.problems.push_back(*problem);
  }
  check_consistency(draft.config, draft.problems);
  return draft;
}

Error config_problems_error(const std::vector<std::string>& problems) {
  return Error(ErrorCode::kConfigInvalid,
               fmt::format("{} configuration problem{}:\n  {}", problems.size(),
                           problems.size() == 1 ? "" : "s", fmt::join(problems, "\n  ")),
               "correct each key named above (docs/configuration.md lists every key, its range and default)");
}

Result<Config> load_config(const std::string& config_file, const FlagValues& flags,
                           const EnvironmentReader& environment) {
  ConfigDraft draft = load_config_draft(config_file, flags, environment);
  if (!draft.problems.empty()) return config_problems_error(draft.problems);
  return std::move(draft.config);
}

std::vector<std::pair<std::string, bool>> config_keys() {
  std::vector<std::pair<std::string, bool>> keys;
  for (const KeySpec& spec : key_specs()) keys.emplace_back(spec.name, spec.reloadable);
  return keys;
}

std::vector<std::string> changed_keys(const Config& a, const Config& b) {
  std::vector<std::string> changed;
  for (const KeySpec& spec : key_specs()) {
    const bool differs = std::visit([&](auto member) { return a.*member != b.*member; }, spec.member);
    if (differs) changed.emplace_back(spec.name);
  }
  if (a.plugins != b.plugins) changed.emplace_back("plugins");
  return changed;
}

broker::BrokerOptions to_broker_options(const Config& config) {
  broker::BrokerOptions options;
  options.data_dir = config.data_dir;
  options.segment_bytes = config.segment_size;
  options.sync_mode =
      config.sync_mode == "interval" ? broker::SyncMode::kInterval : broker::SyncMode::kAlways;
  options.sync_interval_ms = static_cast<uint32_t>(config.sync_interval_ms);
  options.commit_window_us = static_cast<uint32_t>(config.commit_window_us);
  options.self_check_interval_ms = static_cast<uint32_t>(config.self_check_interval_ms);
  options.reserve_bytes = config.reserve_bytes;
  options.checkpoint_interval_ms = static_cast<uint32_t>(config.checkpoint_interval_ms);
  options.max_message_bytes = config.max_message_bytes;
  options.read_cache_bytes = config.read_cache_bytes;
  options.max_disk_bytes = config.max_disk_bytes;
  options.max_memory_bytes = config.max_memory_bytes;
  return options;
}

http::HttpServerOptions to_http_options(const Config& config) {
  http::HttpServerOptions options;
  options.listen = config.http_listen;
  options.insecure_remote = config.insecure_remote;
  options.threads = static_cast<uint32_t>(config.http_threads);
  options.header_timeout_ms = static_cast<uint32_t>(config.http_header_timeout_ms);
  options.body_timeout_ms = static_cast<uint32_t>(config.http_body_timeout_ms);
  options.max_request_bytes = config.max_request_bytes;
  options.max_message_bytes = config.max_message_bytes;
  options.max_long_polls = static_cast<uint32_t>(config.max_long_polls);
  return options;
}

amqp::AmqpServerOptions to_amqp_options(const Config& config) {
  amqp::AmqpServerOptions options;
  size_t start = 0;
  while (start <= config.amqp_listen.size() && !config.amqp_listen.empty()) {
    const size_t comma = config.amqp_listen.find(',', start);
    std::string address =
        config.amqp_listen.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!address.empty()) options.listen.push_back(std::move(address));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  options.insecure_remote = config.insecure_remote;
  options.connection.heartbeat_seconds = static_cast<uint16_t>(config.amqp_heartbeat_seconds);
  options.connection.frame_max = static_cast<uint32_t>(config.amqp_frame_max);
  options.connection.channel_max = static_cast<uint16_t>(config.amqp_channel_max);
  options.connection.publish_timeout_ms = static_cast<uint32_t>(config.amqp_publish_timeout_ms);
  options.connection.max_message_bytes = config.max_message_bytes;
  return options;
}

}  // namespace ballast::ops

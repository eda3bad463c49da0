#include "ops/plugins_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <span>

#include "util/nearest_name.h"

namespace ballast::ops {

namespace {

using plugins::FilterPolicy;
using plugins::PluginConfig;

struct Range {
  std::string_view key;
  uint64_t min;
  uint64_t max;
};

constexpr Range kRanges[] = {
    {"call_timeout_ms", 10, 600000},     {"handshake_timeout_ms", 100, 600000},
    {"ping_interval_ms", 100, 3600000},  {"max_memory_bytes", 0, 1ull << 40},
    {"max_open_files", 16, 1048576},     {"circuit_open_ms", 100, 86400000},
    {"retry_initial_ms", 10, 86400000},  {"retry_max_ms", 10, 86400000},
    {"max_attempts", 1, 1000000},        {"concurrency", 1, 1000},
    {"watch_interval_ms", 100, 3600000}, {"cgroup_memory_max_bytes", 0, 1ull << 40},
    {"cgroup_pids_max", 0, 4194304},     {"cgroup_cpu_max_percent", 0, 100000},
};

// The smallest value a cgroup_* key takes once set (0 means "not set"): below these a plug-in
// cannot even start, and the kernel refuses a CPU quota under 1 ms per 100 ms period.
constexpr Range kCgroupMinimums[] = {
    {"cgroup_memory_max_bytes", 1ull << 20, 0},
    {"cgroup_pids_max", 1, 0},
    {"cgroup_cpu_max_percent", 1, 0},
};

// Keys that only one kind of plug-in takes.
constexpr std::string_view kFilterOnlyKeys[] = {"policy"};
constexpr std::string_view kTriggerOnlyKeys[] = {"retry_initial_ms", "retry_max_ms", "max_attempts",
                                                 "concurrency"};

const std::vector<std::string_view>& plugin_keys() {
  static const std::vector<std::string_view> keys = {"name",
                                                     "kind",
                                                     "command",
                                                     "queues",
                                                     "policy",
                                                     "call_timeout_ms",
                                                     "handshake_timeout_ms",
                                                     "ping_interval_ms",
                                                     "max_memory_bytes",
                                                     "max_open_files",
                                                     "circuit_open_ms",
                                                     "retry_initial_ms",
                                                     "retry_max_ms",
                                                     "max_attempts",
                                                     "concurrency",
                                                     "watch",
                                                     "watch_interval_ms",
                                                     "cgroup_memory_max_bytes",
                                                     "cgroup_pids_max",
                                                     "cgroup_cpu_max_percent",
                                                     "options"};
  return keys;
}

// Reads one [[plugins]] table, appending problems; the result is valid only if none was added.
class TableReader {
 public:
  TableReader(const toml::table& table, const std::string& path, size_t index,
              std::vector<std::string>& problems)
      : table_(table), path_(path), index_(index), problems_(problems) {}

  PluginConfig read() {
    PluginConfig config;
    check_unknown_keys();
    read_name(config);
    read_kind(config);
    config.command =
        read_strings("command", "a non-empty array of strings, e.g. [\"/usr/bin/python3\", \"/opt/f.py\"]");
    config.queues = read_strings("queues", "a non-empty array of queue names, e.g. [\"mail.in\"]");
    read_policy(config);
    config.call_timeout_ms = static_cast<uint32_t>(read_number("call_timeout_ms", config.call_timeout_ms));
    config.handshake_timeout_ms =
        static_cast<uint32_t>(read_number("handshake_timeout_ms", config.handshake_timeout_ms));
    config.ping_interval_ms = static_cast<uint32_t>(read_number("ping_interval_ms", config.ping_interval_ms));
    config.max_memory_bytes = read_number("max_memory_bytes", config.max_memory_bytes);
    config.max_open_files = read_number("max_open_files", config.max_open_files);
    config.timings.circuit_open_ms =
        static_cast<uint32_t>(read_number("circuit_open_ms", config.timings.circuit_open_ms));
    read_retry(config);
    config.watch = read_bool("watch", config.watch);
    config.watch_interval_ms =
        static_cast<uint32_t>(read_number("watch_interval_ms", config.watch_interval_ms));
    read_cgroup(config);
    read_options(config);
    return config;
  }

  std::string source_of(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return fmt::format("{}:{}", path_,
                       node != nullptr ? node->source().begin.line : table_.source().begin.line);
  }
  std::string key_name(std::string_view key) const { return fmt::format("plugins[{}].{}", index_, key); }

 private:
  void problem(std::string_view key, std::string text) {
    problems_.push_back(fmt::format("{}: {} {}", source_of(key), key_name(key), text));
  }

  void check_unknown_keys() {
    for (const auto& [key, node] : table_) {
      const std::string_view name = key.str();
      if (std::find(plugin_keys().begin(), plugin_keys().end(), name) != plugin_keys().end()) continue;
      const std::string where = fmt::format("{}:{}", path_, key.source().begin.line);
      if (auto nearest = nearest_name(name, plugin_keys(), 4)) {
        problems_.push_back(
            fmt::format("{}: unknown key {} (did you mean {}?)", where, key_name(name), *nearest));
      } else {
        problems_.push_back(
            fmt::format("{}: unknown key {} (docs/plugins.md lists the keys of a [[plugins]] table)", where,
                        key_name(name)));
      }
    }
  }

  std::optional<std::string> read_string(std::string_view key, bool required) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) problem(key, "is missing: every [[plugins]] table needs one");
      return std::nullopt;
    }
    if (!node->is_string()) {
      problem(key, "must be a string");
      return std::nullopt;
    }
    return *node->value<std::string>();
  }

  void read_name(PluginConfig& config) {
    auto name = read_string("name", true);
    if (!name) return;
    const bool valid =
        !name->empty() && name->size() <= 64 && std::all_of(name->begin(), name->end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        });
    if (!valid) return problem("name", fmt::format("= \"{}\" must be 1 to 64 of a-z 0-9 . _ -", *name));
    config.name = *name;
  }

  void read_kind(PluginConfig& config) {
    auto kind = read_string("kind", true);
    if (!kind) return;
    if (*kind != plugins::kFilterKind && *kind != plugins::kTriggerKind) {
      return problem("kind", fmt::format("= \"{}\" is not \"filter\" or \"trigger\"", *kind));
    }
    config.kind = *kind;
    const bool trigger = *kind == plugins::kTriggerKind;
    const std::span<const std::string_view> other_kind_keys =
        trigger ? std::span<const std::string_view>(kFilterOnlyKeys)
                : std::span<const std::string_view>(kTriggerOnlyKeys);
    for (std::string_view key : other_kind_keys) {
      if (table_.get(key) != nullptr) {
        problem(key, fmt::format("applies to kind = \"{}\" only; remove it from this kind = \"{}\" table",
                                 trigger ? plugins::kFilterKind : plugins::kTriggerKind, *kind));
      }
    }
  }

  void read_cgroup(PluginConfig& config) {
    config.cgroup_memory_max_bytes = read_cgroup_number("cgroup_memory_max_bytes");
    config.cgroup_pids_max = read_cgroup_number("cgroup_pids_max");
    config.cgroup_cpu_max_percent = static_cast<uint32_t>(read_cgroup_number("cgroup_cpu_max_percent"));
  }

  // A cgroup_* key: 0 or absent is "not set"; a set value is at least its kCgroupMinimums entry.
  uint64_t read_cgroup_number(std::string_view key) {
    const uint64_t value = read_number(key, 0);
    const Range& minimum = *std::find_if(std::begin(kCgroupMinimums), std::end(kCgroupMinimums),
                                         [&](const Range& candidate) { return candidate.key == key; });
    if (value == 0 || value >= minimum.min) return value;
    problem(key, fmt::format("= {} is below {}: set at least {}, or 0 (or leave it out) for no cgroup limit",
                             value, minimum.min, minimum.min));
    return 0;
  }

  void read_retry(PluginConfig& config) {
    plugins::TriggerRetry& retry = config.retry;
    retry.initial_ms = static_cast<uint32_t>(read_number("retry_initial_ms", retry.initial_ms));
    retry.max_ms = static_cast<uint32_t>(read_number("retry_max_ms", retry.max_ms));
    retry.max_attempts = static_cast<uint32_t>(read_number("max_attempts", retry.max_attempts));
    retry.concurrency = static_cast<uint32_t>(read_number("concurrency", retry.concurrency));
    if (retry.max_ms < retry.initial_ms) {
      problem("retry_max_ms", fmt::format("= {} is below retry_initial_ms = {}: the back-off starts at "
                                          "retry_initial_ms and doubles up to retry_max_ms",
                                          retry.max_ms, retry.initial_ms));
    }
  }

  std::vector<std::string> read_strings(std::string_view key, std::string_view expected) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      problem(key, fmt::format("is missing: it must be {}", expected));
      return {};
    }
    const toml::array* array = node->as_array();
    std::vector<std::string> values;
    bool valid = array != nullptr && !array->empty();
    for (size_t i = 0; valid && i < array->size(); ++i) {
      const auto value = array->get(i)->value<std::string>();
      valid = array->get(i)->is_string() && value && !value->empty();
      if (valid) values.push_back(*value);
    }
    if (!valid) {
      problem(key, fmt::format("must be {}", expected));
      return {};
    }
    return values;
  }

  void read_policy(PluginConfig& config) {
    static const std::map<std::string, FilterPolicy, std::less<>> kPolicies = {
        {"hold", FilterPolicy::kHold}, {"bypass", FilterPolicy::kBypass}, {"reject", FilterPolicy::kReject}};
    auto policy = read_string("policy", false);
    if (!policy) return;
    auto found = kPolicies.find(*policy);
    if (found == kPolicies.end())
      return problem("policy", fmt::format("= \"{}\" is not one of hold, bypass, reject", *policy));
    config.policy = found->second;
  }

  bool read_bool(std::string_view key, bool fallback) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return fallback;
    if (!node->is_boolean()) {
      problem(key, "must be true or false");
      return fallback;
    }
    return *node->value<bool>();
  }

  uint64_t read_number(std::string_view key, uint64_t fallback) {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return fallback;
    const Range& range = *std::find_if(std::begin(kRanges), std::end(kRanges),
                                       [&](const Range& candidate) { return candidate.key == key; });
    const auto value = node->value<int64_t>();
    if (!node->is_integer() || !value || *value < 0 || static_cast<uint64_t>(*value) < range.min ||
        static_cast<uint64_t>(*value) > range.max) {
      problem(key, fmt::format("= {} is not a whole number in {}..{}",
                               node->is_integer() ? fmt::format("{}", *value) : "(not a number)", range.min,
                               range.max));
      return fallback;
    }
    return static_cast<uint64_t>(*value);
  }

  void read_options(PluginConfig& config) {
    const toml::node* node = table_.get("options");
    if (node == nullptr) return;
    const toml::table* options = node->as_table();
    if (options == nullptr)
      return problem("options", "must be a table of strings, e.g. { threshold = \"5\" }");
    for (const auto& [key, value] : *options) {
      if (!value.is_string()) {
        problem("options", fmt::format("value of \"{}\" must be a string (quote it: {} = \"...\")", key.str(),
                                       key.str()));
        continue;
      }
      config.options.emplace(std::string(key.str()), *value.value<std::string>());
    }
  }

  const toml::table& table_;
  const std::string& path_;
  size_t index_;
  std::vector<std::string>& problems_;
};

}  // namespace

std::vector<PluginConfig> parse_plugin_tables(const toml::node& node, const std::string& path,
                                              std::vector<std::string>& problems) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    problems.push_back(
        fmt::format("{}:{}: plugins must be an array of tables: write each plug-in as a [[plugins]] "
                    "table (docs/plugins.md)",
                    path, node.source().begin.line));
    return {};
  }
  std::vector<PluginConfig> configs;
  std::map<std::string, std::string> filter_of_queue;
  std::set<std::string> names;
  for (size_t index = 0; index < array->size(); ++index) {
    TableReader reader(*array->get(index)->as_table(), path, index, problems);
    const size_t problems_before = problems.size();
    PluginConfig config = reader.read();
    if (!config.name.empty() && !names.insert(config.name).second) {
      problems.push_back(
          fmt::format("{}: {} = \"{}\" is used by an earlier [[plugins]] table: names must be unique",
                      reader.source_of("name"), reader.key_name("name"), config.name));
    }
    std::set<std::string> queues_of_table;
    for (const std::string& queue : config.queues) {
      if (!queues_of_table.insert(queue).second) {
        // Twice in one trigger's list would make two work items a message.
        problems.push_back(fmt::format(
            "{}: {}: queue \"{}\" is listed twice for plug-in \"{}\"; remove the second \"{}\" from queues",
            reader.source_of("queues"), reader.key_name("queues"), queue, config.name, queue));
        continue;
      }
      if (queue.starts_with("ballast.")) {
        problems.push_back(
            fmt::format("{}: {}: queue \"{}\" is one of the broker's own (\"ballast.\"); attach plug-ins "
                        "to your queues",
                        reader.source_of("queues"), reader.key_name("queues"), queue));
        continue;
      }
      if (config.kind == plugins::kTriggerKind) continue;
      if (queue.size() > plugins::kMaxFilteredQueueNameBytes) {
        problems.push_back(fmt::format(
            "{}: {}: queue name \"{}...\" has {} bytes; a filtered queue's name has at most {} (its held "
            "messages wait in \"ballast.held.<queue>\", at most 255 bytes)",
            reader.source_of("queues"), reader.key_name("queues"), queue.substr(0, 32), queue.size(),
            plugins::kMaxFilteredQueueNameBytes));
        continue;
      }
      auto [existing, inserted] = filter_of_queue.emplace(queue, config.name);
      if (!inserted) {
        problems.push_back(
            fmt::format("{}: {}: queue \"{}\" already has the filter \"{}\"; a queue has at most one",
                        reader.source_of("queues"), reader.key_name("queues"), queue, existing->second));
      }
    }
    if (problems.size() == problems_before) configs.push_back(std::move(config));
  }
  return configs;
}

}  // namespace ballast::ops

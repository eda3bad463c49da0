#include "plugins/content_filter/content_rules.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "util/nearest_name.h"

namespace ballast::content_filter {
namespace {

constexpr std::array<std::string_view, 4> kTopKeys = {"reject_score", "tag_header", "max_scan_bytes",
                                                      "rules"};
constexpr std::array<std::string_view, 9> kRuleKeys = {
    "name", "score", "header", "equals", "regex", "body_regex", "ignore_case", "min_bytes", "max_bytes"};
constexpr std::string_view kFix =
    "correct the rules file (docs/plugins.md, \"content-filter\" lists every key); the plug-in "
    "is restarted with back-off and loads it again";

// Collects the problems of one file, each "<source>:<line>: <what>".
class Problems {
 public:
  explicit Problems(std::string source) : source_(std::move(source)) {}
  void add(const toml::source_region& where, const std::string& what) {
    list_.push_back(fmt::format("{}:{}: {}", source_, where.begin.line, what));
  }
  bool empty() const { return list_.empty(); }
  Error error() const {
    return Error(ErrorCode::kConfigInvalid, fmt::format("content-filter rules: {}", fmt::join(list_, "; ")),
                 std::string(kFix));
  }

 private:
  std::string source_;
  std::vector<std::string> list_;
};

template <size_t N>
void check_keys(const toml::table& table, const std::array<std::string_view, N>& known,
                std::string_view where, Problems& problems) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    const auto nearest =
        nearest_name(key.str(), std::vector<std::string_view>(known.begin(), known.end()), 3);
    problems.add(key.source(), fmt::format("unknown key \"{}\"{}{}", key.str(), where,
                                           nearest ? fmt::format(" (did you mean \"{}\"?)", *nearest) : ""));
  }
}

std::optional<int64_t> integer_at(const toml::table& table, std::string_view key, Problems& problems) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return std::nullopt;
  if (auto value = node->value<int64_t>(); value && node->is_integer()) return *value;
  problems.add(node->source(), fmt::format("\"{}\" must be an integer", key));
  return std::nullopt;
}

std::optional<uint64_t> size_at(const toml::table& table, std::string_view key, Problems& problems) {
  auto value = integer_at(table, key, problems);
  if (!value) return std::nullopt;
  if (*value >= 0) return static_cast<uint64_t>(*value);
  problems.add(table.get(key)->source(), fmt::format("\"{}\" = {} is negative", key, *value));
  return std::nullopt;
}

std::optional<std::string> string_at(const toml::table& table, std::string_view key, Problems& problems) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return std::nullopt;
  if (node->is_string()) return *node->value<std::string>();
  problems.add(node->source(), fmt::format("\"{}\" must be a string", key));
  return std::nullopt;
}

std::optional<std::regex> regex_at(const toml::table& table, std::string_view key, bool ignore_case,
                                   Problems& problems) {
  auto pattern = string_at(table, key, problems);
  if (!pattern) return std::nullopt;
  auto flags = std::regex::ECMAScript | std::regex::optimize;
  if (ignore_case) flags |= std::regex::icase;
  try {
    return std::regex(*pattern, flags);
  } catch (const std::regex_error& error) {  // std::regex reports a bad pattern by throwing
    problems.add(table.get(key)->source(),
                 fmt::format("\"{}\" = \"{}\" is not an ECMAScript regular expression: {}", key, *pattern,
                             error.what()));
    return std::nullopt;
  }
}

bool has_condition(const ContentRule& rule) {
  return !rule.header.empty() || rule.body_regex || rule.min_bytes || rule.max_bytes;
}

std::optional<ContentRule> parse_rule(const toml::table& table, std::set<std::string>& names,
                                      Problems& problems) {
  check_keys(table, kRuleKeys, " in a [[rules]] table", problems);
  ContentRule rule;
  rule.name = string_at(table, "name", problems).value_or("");
  if (rule.name.empty()) {
    problems.add(table.source(), "a [[rules]] table has no \"name\"");
    return std::nullopt;
  }
  if (!names.insert(rule.name).second) {
    problems.add(table.source(), fmt::format("two rules are named \"{}\"", rule.name));
  }
  rule.score = integer_at(table, "score", problems).value_or(1);
  const toml::node* ignore = table.get("ignore_case");
  const bool ignore_case = ignore != nullptr && ignore->value_or(false);
  if (ignore != nullptr && !ignore->is_boolean())
    problems.add(ignore->source(), "\"ignore_case\" must be true or false");
  rule.header = string_at(table, "header", problems).value_or("");
  rule.header_equals = string_at(table, "equals", problems);
  rule.header_regex = regex_at(table, "regex", ignore_case, problems);
  rule.body_regex = regex_at(table, "body_regex", ignore_case, problems);
  rule.min_bytes = size_at(table, "min_bytes", problems);
  rule.max_bytes = size_at(table, "max_bytes", problems);
  if (rule.header.empty() && (table.contains("equals") || table.contains("regex"))) {
    problems.add(table.source(),
                 fmt::format("rule \"{}\": \"equals\" and \"regex\" need \"header\"", rule.name));
  }
  if (!has_condition(rule)) {
    problems.add(table.source(), fmt::format("rule \"{}\" has no condition: give header, body_regex, "
                                             "min_bytes or max_bytes",
                                             rule.name));
  }
  return rule;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const std::string* header_value(const plugin::Message& message, const std::string& name) {
  for (const auto& [key, value] : message.headers) {
    if (same_name(key, name)) return &value;
  }
  return nullptr;
}

bool matches(const ContentRules& rules, const ContentRule& rule, const plugin::Message& message) {
  if (!rule.header.empty()) {
    const std::string* value = header_value(message, rule.header);
    if (value == nullptr) return false;
    if (rule.header_equals && *value != *rule.header_equals) return false;
    if (rule.header_regex && !std::regex_search(*value, *rule.header_regex)) return false;
  }
  const uint64_t size = message.body.size();
  if (rule.min_bytes && size < *rule.min_bytes) return false;
  if (rule.max_bytes && size > *rule.max_bytes) return false;
  if (rule.body_regex) {
    const auto end = message.body.begin() + static_cast<std::ptrdiff_t>(std::min(size, rules.max_scan_bytes));
    if (!std::regex_search(message.body.begin(), end, *rule.body_regex)) return false;
  }
  return true;
}

}  // namespace

Result<ContentRules> parse_content_rules(const std::string& text, const std::string& source) {
  toml::table parsed;
  try {
    parsed = toml::parse(text, source);
  } catch (const toml::parse_error& error) {  // toml++ reports syntax errors by throwing
    Problems problems(source);
    problems.add(error.source(), std::string(error.description()));
    return problems.error();
  }
  Problems problems(source);
  check_keys(parsed, kTopKeys, "", problems);
  ContentRules rules;
  rules.reject_score = integer_at(parsed, "reject_score", problems).value_or(rules.reject_score);
  if (rules.reject_score < 1) {
    problems.add(parsed.get("reject_score")->source(),
                 fmt::format("\"reject_score\" = {} would reject messages no rule matched; use 1 or more",
                             rules.reject_score));
  }
  rules.tag_header = string_at(parsed, "tag_header", problems).value_or(rules.tag_header);
  rules.max_scan_bytes = size_at(parsed, "max_scan_bytes", problems).value_or(rules.max_scan_bytes);
  std::set<std::string> names;
  if (const toml::node* list = parsed.get("rules")) {
    const toml::array* tables = list->as_array();
    if (tables == nullptr || !tables->is_array_of_tables()) {
      problems.add(list->source(), "\"rules\" must be [[rules]] tables");
    } else {
      for (const toml::node& table : *tables) {
        if (auto rule = parse_rule(*table.as_table(), names, problems))
          rules.rules.push_back(std::move(*rule));
      }
    }
  }
  if (!problems.empty()) return problems.error();
  return rules;
}

Result<ContentRules> load_content_rules(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kConfigInvalid,
                 fmt::format("content-filter rules: cannot read {}: {}", path, std::strerror(errno)),
                 "set the plug-in's option rules_file to a readable TOML file (the plug-in runs as the "
                 "broker's user)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_content_rules(text.str(), path);
}

ContentScore score_message(const ContentRules& rules, const plugin::Message& message) {
  ContentScore score;
  for (const ContentRule& rule : rules.rules) {
    if (!matches(rules, rule, message)) continue;
    score.total += rule.score;
    score.matched.push_back(fmt::format("{} {:+}", rule.name, rule.score));
  }
  return score;
}

plugin::Verdict decide(const ContentRules& rules, const plugin::Message& message) {
  const ContentScore score = score_message(rules, message);
  if (score.total >= rules.reject_score) {
    return plugin::Verdict::reject(fmt::format("content-filter: score {} reached reject_score {} ({})",
                                               score.total, rules.reject_score,
                                               fmt::join(score.matched, ", ")));
  }
  if (score.total == 0 || rules.tag_header.empty()) return plugin::Verdict::accept();
  auto headers = message.headers;
  headers[rules.tag_header] = fmt::format("{} ({})", score.total, fmt::join(score.matched, ", "));
  return plugin::Verdict::modify(std::move(headers), std::nullopt);
}

}  // namespace ballast::content_filter

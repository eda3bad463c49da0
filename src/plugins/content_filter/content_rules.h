#pragma once
// The rules of the shipped content-filter plug-in (docs/plugins.md, "content-filter"): a TOML
// rules file, parsed once at the plug-in's start, and the verdict they give a message. Each
// rule that matches adds its score; a message whose total reaches `reject_score` is rejected
// naming the rules, one with another non-zero total is tagged with a header, the rest pass.
// Parsing reports every problem at once (CONFIG_INVALID naming the file, line and key, with
// the nearest valid key for a misspelt one); evaluation never fails.
// Thread-safe: ContentRules is immutable once parsed; the functions are pure.

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "ballast/plugin.h"
#include "util/result.h"

namespace ballast::content_filter {

struct ContentRule {
  std::string name;
  int64_t score = 1;  // may be negative: a rule that vouches for a message
  // Every condition set must hold for the rule to match; at least one is set.
  std::string header;                        // header name, matched without regard to case
  std::optional<std::string> header_equals;  // with header: its value is exactly this
  std::optional<std::regex> header_regex;    // with header: its value matches (search)
  std::optional<std::regex> body_regex;      // the body (its first max_scan_bytes) matches
  std::optional<uint64_t> min_bytes;         // the body has at least this many bytes
  std::optional<uint64_t> max_bytes;         // the body has at most this many bytes
};

struct ContentRules {
  int64_t reject_score = 5;
  std::string tag_header = "x-content-score";  // empty: never tag
  // Body bytes the regexes look at. libstdc++'s std::regex recurses about once per character
  // searched, so much more could overflow the plug-in's stack on a large body.
  uint64_t max_scan_bytes = 16384;
  std::vector<ContentRule> rules;
};

// Parses rules file text; `source` (the file's path) names it in every problem.
Result<ContentRules> parse_content_rules(const std::string& text, const std::string& source);
// Reads and parses the file at `path`.
Result<ContentRules> load_content_rules(const std::string& path);

struct ContentScore {
  int64_t total = 0;
  std::vector<std::string> matched;  // "name +score", in rule order
};

ContentScore score_message(const ContentRules& rules, const plugin::Message& message);

// reject (total >= reject_score), modify (another non-zero total and a tag header: the
// message's headers plus the tag "<total> (<rules>)"), or accept.
plugin::Verdict decide(const ContentRules& rules, const plugin::Message& message);

}  // namespace ballast::content_filter

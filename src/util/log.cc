#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace ballast::log {
namespace {

std::atomic<Level> g_min_level{Level::kInfo};
std::mutex g_sink_mu;
Sink g_sink;  // guarded by g_sink_mu; empty means stderr

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

void append_value(std::string& line, std::string_view value) {
  if (!needs_quotes(value)) {
    line.append(value);
    return;
  }
  line.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') line.push_back('\\');
    if (c == '\n') {
      line.append("\\n");
      continue;
    }
    line.push_back(c);
  }
  line.push_back('"');
}

std::string timestamp_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms);
}

// Per event name: how many were written in the current second, and how many were dropped.
struct RateWindow {
  int64_t second = 0;
  uint32_t written = 0;
  uint64_t suppressed = 0;
};
std::mutex g_rate_mu;
std::map<std::string, RateWindow, std::less<>> g_rate_windows;  // guarded by g_rate_mu

void write_line(Level level, std::string_view name, std::span<const Field> fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  std::string line = fmt::format("ts={} level={} event={}", timestamp_now(), level_name(level), name);
  for (const Field& field : fields) {
    line.push_back(' ');
    line.append(field.key);
    line.push_back('=');
    append_value(line, field.value);
  }
  std::lock_guard lock(g_sink_mu);
  if (g_sink) {
    g_sink(line);
    return;
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// Counts one `name` event against its per-second budget: false if it must be dropped;
// otherwise `suppressed` is how many were dropped since the last one written.
bool within_rate(std::string_view name, uint32_t per_second, uint64_t& suppressed) {
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
  std::lock_guard lock(g_rate_mu);
  auto found = g_rate_windows.find(name);
  if (found == g_rate_windows.end()) found = g_rate_windows.emplace(std::string(name), RateWindow{}).first;
  RateWindow& window = found->second;
  if (window.second != second) {
    window.second = second;
    window.written = 0;
  }
  if (window.written >= per_second) {
    ++window.suppressed;
    return false;
  }
  ++window.written;
  suppressed = std::exchange(window.suppressed, 0);
  return true;
}

}  // namespace

void event(Level level, std::string_view name, std::initializer_list<Field> fields) {
  write_line(level, name, std::span<const Field>(fields.begin(), fields.size()));
}

void limited_event(Level level, std::string_view name, std::initializer_list<Field> fields,
                   uint32_t per_second) {
  uint64_t suppressed = 0;
  if (!within_rate(name, per_second, suppressed)) return;
  std::vector<Field> all(fields);
  if (suppressed > 0) all.push_back(kv("suppressed", suppressed));
  write_line(level, name, all);
}

void set_min_level(Level level) {
  g_min_level.store(level, std::memory_order_relaxed);
}

bool parse_level(std::string_view text, Level& level) {
  for (Level candidate : {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (level_name(candidate) == text) {
      level = candidate;
      return true;
    }
  }
  return false;
}

void set_sink(Sink sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = std::move(sink);
}

}  // namespace ballast::log

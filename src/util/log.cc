#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "util/recent_events.h"

namespace ballast::log {
namespace {

std::atomic<Level> g_min_level{Level::kInfo};
std::mutex g_sink_mu;
Sink g_sink;  // guarded by g_sink_mu; empty means stderr

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

RecentEventRing& fault_ring() {
  static RecentEventRing ring(kRecentFaultEvents);
  return ring;
}

// Per event name: how many were written in the current second, and how many were dropped.
struct RateWindow {
  int64_t second = 0;
  uint32_t written = 0;
  uint64_t suppressed = 0;
};
std::mutex g_rate_mu;
std::map<std::string, RateWindow, std::less<>> g_rate_windows;  // guarded by g_rate_mu

// Warn and error events are kept in the ring of recent faults, whatever the minimum level.
void keep_fault(int64_t unix_ms, std::string_view timestamp, Level level, std::string_view name,
                std::span<const Field> fields) {
  RecentEvent event;
  event.unix_ms = unix_ms;
  event.time = timestamp;
  event.level = level;
  event.name = name;
  event.fields.reserve(fields.size());
  for (const Field& field : fields) event.fields.emplace_back(field.key, field.value);
  fault_ring().add(std::move(event));
}

std::string format_line(std::string_view timestamp, Level level, std::string_view name,
                        std::span<const Field> fields) {
  std::string line = fmt::format("ts={} level={} event={}", timestamp, level_name(level), name);
  for (const Field& field : fields) {
    line.push_back(' ');
    line.append(field.key);
    line.push_back('=');
    append_value(line, field.value);
  }
  return line;
}

void write_line(Level level, std::string_view name, std::span<const Field> fields) {
  const bool fault = level >= Level::kWarn;
  const bool logged = level >= g_min_level.load(std::memory_order_relaxed);
  if (!fault && !logged) return;
  const int64_t unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  const std::string timestamp = utc_timestamp(unix_ms);
  if (fault) keep_fault(unix_ms, timestamp, level, name, fields);
  if (!logged) return;
  std::string line = format_line(timestamp, level, name, fields);
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

const RecentEventRing& recent_fault_events() {
  return fault_ring();
}

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

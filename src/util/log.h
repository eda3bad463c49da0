#pragma once
// Structured event log (STYLE.md §7). Every record is one line on the configured sink:
//   ts=2026-11-22T10:00:00.123Z level=warn event=storage.torn_tail segment=000042.seg offset=81920
// Event names follow `area.what_happened` and are listed in docs/events.md.
// The sink is process-wide (ops configures it); by default lines go to stderr.
// Thread-safe: lines from different threads never interleave.

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ballast::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

struct Field {
  std::string_view key;
  std::string value;
};

// A key=value field; the value is formatted with fmt.
template <typename V>
Field kv(std::string_view key, const V& value) {
  return Field{key, fmt::format("{}", value)};
}

// Emits one event if `level` is at or above the minimum level.
void event(Level level, std::string_view name, std::initializer_list<Field> fields = {});

// Like event(), for per-message and per-connection events: at most `per_second` events of
// one name are written each second; the first one after a quiet spell carries
// suppressed=N, the number dropped since the last one written.
void limited_event(Level level, std::string_view name, std::initializer_list<Field> fields,
                   uint32_t per_second = 10);

// Sets the minimum level (default kInfo). Parses "trace|debug|info|warn|error".
void set_min_level(Level level);
bool parse_level(std::string_view text, Level& level);

// Replaces the sink (default: stderr). Tests capture lines with this; pass {} to restore.
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);

}  // namespace ballast::log

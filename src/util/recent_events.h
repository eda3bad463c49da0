#pragma once
// The most recent warn and error events of the structured event log (util/log.h), kept in
// memory so that a running broker can say what went wrong lately (GET /api/v1/status,
// `ballast doctor --server`) without anyone reading its log file.
//
// RecentEventRing is a bounded ring: it keeps the last `capacity` events added and drops the
// oldest. The event log feeds one process-wide ring (recent_fault_events()) with every warn
// and error event it writes, whatever server.log_level says; a rate-limited event that is
// suppressed is not kept either. Like the log sink, the ring lives at the bottom so that every
// layer's faults reach it.
// Thread-safe: add() and the readers take one mutex, held only to copy an event in or out.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/log.h"

namespace ballast::log {

struct RecentEvent {
  int64_t unix_ms = 0;  // when it was written, milliseconds since the Unix epoch (UTC)
  std::string time;     // the same instant as the log line's ts=, "2026-11-22T10:00:00.123Z"
  Level level = Level::kWarn;
  std::string name;                                         // e.g. "storage.self_check_failed"
  std::vector<std::pair<std::string, std::string>> fields;  // key=value, in the order logged
};

class RecentEventRing {
 public:
  // `capacity` >= 1: how many events are kept.
  explicit RecentEventRing(size_t capacity);
  RecentEventRing(const RecentEventRing&) = delete;
  RecentEventRing& operator=(const RecentEventRing&) = delete;

  // Keeps `event`; once `capacity` events are held, the oldest one is dropped.
  void add(RecentEvent event);
  // The events held, newest first (at most `capacity`).
  std::vector<RecentEvent> newest_first() const;
  // How many events were ever added, kept or since dropped.
  uint64_t total_added() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<RecentEvent> slots_;  // guarded by mu_; grows to capacity_, then reused
  size_t next_slot_ = 0;            // guarded by mu_; where the next event goes once full
  uint64_t total_added_ = 0;        // guarded by mu_
};

// How many warn and error events the process-wide ring keeps.
inline constexpr size_t kRecentFaultEvents = 50;

// The process-wide ring of the last kRecentFaultEvents warn and error events (read-only to
// callers: only the event log adds to it). Lives for the whole process.
const RecentEventRing& recent_fault_events();

// An instant as the event log writes it: "2026-11-22T10:00:00.123Z" (UTC, milliseconds).
std::string utc_timestamp(int64_t unix_ms);

// "trace", "debug", "info", "warn", "error".
std::string_view level_name(Level level);

}  // namespace ballast::log

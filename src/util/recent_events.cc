#include "util/recent_events.h"

#include <ctime>

#include <fmt/format.h>

namespace ballast::log {

std::string utc_timestamp(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, unix_ms % 1000);
}

RecentEventRing::RecentEventRing(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  slots_.reserve(capacity_);
}

void RecentEventRing::add(RecentEvent event) {
  std::lock_guard lock(mu_);
  ++total_added_;
  if (slots_.size() < capacity_) {
    slots_.push_back(std::move(event));
    return;
  }
  slots_[next_slot_] = std::move(event);
  next_slot_ = (next_slot_ + 1) % capacity_;
}

std::vector<RecentEvent> RecentEventRing::newest_first() const {
  std::lock_guard lock(mu_);
  std::vector<RecentEvent> events;
  events.reserve(slots_.size());
  // Until the ring is full the newest is at the back; afterwards just before next_slot_.
  const size_t newest = slots_.size() < capacity_ ? slots_.size() : next_slot_ + capacity_;
  for (size_t back = 1; back <= slots_.size(); ++back)
    events.push_back(slots_[(newest - back) % slots_.size()]);
  return events;
}

uint64_t RecentEventRing::total_added() const {
  std::lock_guard lock(mu_);
  return total_added_;
}

}  // namespace ballast::log

#pragma once
// Time as the broker sees it: wall-clock milliseconds since the epoch (stored deadlines:
// expirations, delays) and monotonic milliseconds (leases, timeouts). Injected through
// constructors so tests control time. SystemClock is thread-safe; a test clock is whatever
// its test makes it.

#include <chrono>
#include <cstdint>

namespace ballast {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t wall_ms() const = 0;
  virtual int64_t monotonic_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t monotonic_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace ballast

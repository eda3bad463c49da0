#pragma once
// Events per second over the last minute, in one-second buckets. Callers pass the monotonic
// time. Not thread-safe: owned by the broker thread.

#include <array>
#include <cstdint>

namespace ballast::broker {

class RateCounter {
 public:
  void add(uint64_t count, int64_t now_monotonic_ms) {
    advance(now_monotonic_ms / 1000);
    buckets_[static_cast<size_t>(current_second_ % kSeconds)] += count;
  }
  // Mean per second over the last 60 s.
  double per_second(int64_t now_monotonic_ms) {
    advance(now_monotonic_ms / 1000);
    uint64_t total = 0;
    for (uint64_t bucket : buckets_) total += bucket;
    return static_cast<double>(total) / kSeconds;
  }

 private:
  static constexpr int64_t kSeconds = 60;
  void advance(int64_t second) {
    if (second <= current_second_) return;
    const int64_t steps = std::min<int64_t>(second - current_second_, kSeconds);
    for (int64_t i = 1; i <= steps; ++i) buckets_[static_cast<size_t>((current_second_ + i) % kSeconds)] = 0;
    current_second_ = second;
  }
  std::array<uint64_t, kSeconds> buckets_{};
  int64_t current_second_ = 0;
};

}  // namespace ballast::broker

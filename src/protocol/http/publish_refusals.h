#pragma once
// Counts the HTTP publishes refused for a broker-wide reason (storage unwritable or full, a
// broker disk or memory limit: what AMQP publishers are sent connection.blocked for) over the
// last minute, for the live status (GET /api/v1/status). A refusal that concerns one queue
// or one request (a queue limit, a bad body) is not counted.
// Thread-safe: add() and last_minute() take one mutex; add() is called only for refusals.

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>

#include "util/error_code.h"

namespace ballast::http {

// Whether a publish refused with `code` was refused for a broker-wide reason.
bool is_broker_wide_refusal(ErrorCode code);

class PublishRefusals {
 public:
  static constexpr int64_t kWindowSeconds = 60;

  struct Summary {
    uint64_t last_minute = 0;            // refusals in the last 60 seconds
    std::optional<ErrorCode> last_code;  // the code of the newest one, if any in that minute
  };

  // Counts one refusal at `now_ms` (monotonic milliseconds; never decreasing across calls).
  void add(ErrorCode code, int64_t now_ms);
  Summary last_minute(int64_t now_ms) const;

 private:
  struct Second {
    int64_t second = -1;  // which second this slot counts
    uint64_t refusals = 0;
  };
  mutable std::mutex mu_;
  std::array<Second, kWindowSeconds> seconds_{};  // guarded by mu_; slot = second % 60
  std::optional<ErrorCode> last_code_;            // guarded by mu_
  int64_t last_second_ = -1;                      // guarded by mu_; when last_code_ was seen
};

}  // namespace ballast::http

#include "protocol/http/publish_refusals.h"

namespace ballast::http {

bool is_broker_wide_refusal(ErrorCode code) {
  switch (code) {
    case ErrorCode::kStoragePermissionDenied:
    case ErrorCode::kStorageFull:
    case ErrorCode::kStorageIoError:
    case ErrorCode::kBrokerDiskLimit:
    case ErrorCode::kBrokerMemoryLimit:
      return true;
    default:
      return false;
  }
}

void PublishRefusals::add(ErrorCode code, int64_t now_ms) {
  const int64_t second = now_ms / 1000;
  std::lock_guard lock(mu_);
  Second& slot = seconds_[static_cast<size_t>(second % kWindowSeconds)];
  if (slot.second != second) slot = Second{second, 0};
  ++slot.refusals;
  last_code_ = code;
  last_second_ = second;
}

PublishRefusals::Summary PublishRefusals::last_minute(int64_t now_ms) const {
  const int64_t now_second = now_ms / 1000;
  Summary summary;
  std::lock_guard lock(mu_);
  for (const Second& slot : seconds_) {
    if (slot.second > now_second - kWindowSeconds && slot.second <= now_second)
      summary.last_minute += slot.refusals;
  }
  if (last_second_ > now_second - kWindowSeconds) summary.last_code = last_code_;
  return summary;
}

}  // namespace ballast::http

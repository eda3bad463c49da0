#include "broker/hot_messages.h"

namespace ballast::broker {

namespace {
constexpr uint64_t kEntryOverheadBytes = 128;  // map node, strings' headers, order slot
}  // namespace

uint64_t HotMessages::cost(const MessageAppendedRecord& record) {
  return record.body.size() + record.properties.size() + record.message_id.size() + kEntryOverheadBytes;
}

void HotMessages::put(uint64_t key, MessageAppendedRecord record) {
  const uint64_t added = cost(record);
  if (added > capacity_bytes_) return;
  bytes_ += added;
  records_.insert_or_assign(key, std::move(record));
  order_.push_back(key);
  while (bytes_ > capacity_bytes_ && !order_.empty()) {
    auto oldest = records_.find(order_.front());
    order_.pop_front();
    if (oldest == records_.end()) continue;
    bytes_ -= cost(oldest->second);
    records_.erase(oldest);
  }
  // Taken keys leave stale slots in order_; compact when they dominate.
  if (order_.size() > 2 * records_.size() + 1024) {
    std::erase_if(order_, [this](uint64_t slot) { return !records_.contains(slot); });
  }
}

std::optional<MessageAppendedRecord> HotMessages::take(uint64_t key) {
  auto found = records_.find(key);
  if (found == records_.end()) return std::nullopt;
  MessageAppendedRecord record = std::move(found->second);
  records_.erase(found);
  bytes_ -= cost(record);
  return record;
}

}  // namespace ballast::broker

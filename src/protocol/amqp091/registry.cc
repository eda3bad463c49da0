#include "protocol/amqp091/registry.h"

#include <algorithm>

#include "protocol/amqp091/connection.h"

namespace ballast::amqp {

uint64_t Registry::exclusive_owner(const QueueKey& queue) const {
  auto found = exclusive_owners_.find(queue);
  return found == exclusive_owners_.end() ? 0 : found->second;
}

void Registry::set_exclusive_owner(const QueueKey& queue, uint64_t connection_id) {
  exclusive_owners_[queue] = connection_id;
}

void Registry::forget_queue(const QueueKey& queue) {
  exclusive_owners_.erase(queue);
  expiring_.erase(queue);
}

void Registry::track_expiry(const QueueKey& queue, uint64_t expires_ms, int64_t now_ms) {
  expiring_[queue] = Expiry{expires_ms, now_ms};
}

void Registry::note_use(const QueueKey& queue, int64_t now_ms) {
  auto found = expiring_.find(queue);
  if (found != expiring_.end()) found->second.last_used_ms = now_ms;
}

std::vector<Registry::QueueKey> Registry::take_expired(int64_t now_ms) {
  std::vector<QueueKey> expired;
  for (auto it = expiring_.begin(); it != expiring_.end();) {
    const bool idle = consumer_count(it->first) == 0;
    if (!idle) it->second.last_used_ms = now_ms;  // in use while it has consumers
    if (idle && now_ms - it->second.last_used_ms >= static_cast<int64_t>(it->second.expires_ms)) {
      expired.push_back(it->first);
      exclusive_owners_.erase(it->first);
      it = expiring_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

void Registry::add_consumer(const QueueKey& queue, const std::shared_ptr<Connection>& connection,
                            uint16_t channel, const std::string& tag, bool exclusive) {
  consumers_[queue].push_back(ConsumerRef{connection, connection->id(), channel, tag, exclusive});
}

void Registry::remove_consumer(const QueueKey& queue, uint64_t connection_id, uint16_t channel,
                               const std::string& tag) {
  auto found = consumers_.find(queue);
  if (found == consumers_.end()) return;
  std::erase_if(found->second, [&](const ConsumerRef& ref) {
    return ref.connection_id == connection_id && ref.channel == channel && ref.tag == tag;
  });
  if (found->second.empty()) consumers_.erase(found);
}

uint32_t Registry::consumer_count(const QueueKey& queue) const {
  auto found = consumers_.find(queue);
  return found == consumers_.end() ? 0 : static_cast<uint32_t>(found->second.size());
}

bool Registry::has_exclusive_consumer(const QueueKey& queue) const {
  auto found = consumers_.find(queue);
  if (found == consumers_.end()) return false;
  return std::any_of(found->second.begin(), found->second.end(),
                     [](const ConsumerRef& ref) { return ref.exclusive; });
}

void Registry::cancel_consumers(const QueueKey& queue) {
  auto found = consumers_.extract(queue);
  if (found.empty()) return;
  for (const ConsumerRef& ref : found.mapped()) {
    if (auto connection = ref.connection.lock())
      connection->cancel_consumer_for_deleted_queue(ref.channel, ref.tag);
  }
}

}  // namespace ballast::amqp

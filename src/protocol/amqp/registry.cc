#include "protocol/amqp/registry.h"

#include <algorithm>

#include "protocol/amqp/connection.h"

namespace ballast::amqp {

uint64_t Registry::exclusive_owner(const QueueKey& queue) const {
  auto found = exclusive_owners_.find(queue);
  return found == exclusive_owners_.end() ? 0 : found->second;
}

void Registry::set_exclusive_owner(const QueueKey& queue, uint64_t connection_id) {
  exclusive_owners_[queue] = connection_id;
}

void Registry::forget_queue(const QueueKey& queue) { exclusive_owners_.erase(queue); }

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
    if (auto connection = ref.connection.lock()) connection->cancel_consumer_for_deleted_queue(ref.channel, ref.tag);
  }
}

}  // namespace ballast::amqp

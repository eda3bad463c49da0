#include "broker/damaged_queues.h"

namespace ballast::broker {

void DamagedQueues::note(const std::string& vhost, const std::string& name, ErrorCode code, uint64_t key,
                         const std::string& message) {
  auto [found, inserted] = queues_.try_emplace({vhost, name});
  Noted& noted = found->second;
  if (inserted) noted.queue = DamagedQueue{vhost, name, code, 0, message};
  noted.keys.insert(key);
  noted.queue.unreadable_messages = noted.keys.size();
}

void DamagedQueues::retain(
    const std::function<bool(const std::string& vhost, const std::string& name)>& exists) {
  std::erase_if(queues_,
                [&exists](const auto& entry) { return !exists(entry.first.first, entry.first.second); });
}

std::vector<DamagedQueue> DamagedQueues::list() const {
  std::vector<DamagedQueue> queues;
  queues.reserve(queues_.size());
  for (const auto& [key, noted] : queues_) queues.push_back(noted.queue);
  return queues;
}

}  // namespace ballast::broker

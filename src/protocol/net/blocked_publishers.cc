#include "protocol/net/blocked_publishers.h"

#include <algorithm>
#include <utility>

namespace ballast::net {

void BlockedPublishers::add(BlockedPublisher publisher) {
  std::lock_guard lock(mu_);
  Key key{publisher.protocol, publisher.connection_id};
  entries_.insert_or_assign(std::move(key), std::move(publisher));
}

void BlockedPublishers::remove(const std::string& protocol, uint64_t connection_id) {
  std::lock_guard lock(mu_);
  entries_.erase(Key{protocol, connection_id});
}

std::vector<BlockedPublisher> BlockedPublishers::list() const {
  std::vector<BlockedPublisher> publishers;
  {
    std::lock_guard lock(mu_);
    publishers.reserve(entries_.size());
    for (const auto& [key, publisher] : entries_) publishers.push_back(publisher);
  }
  std::stable_sort(publishers.begin(), publishers.end(),
                   [](const auto& a, const auto& b) { return a.since_unix_ms < b.since_unix_ms; });
  return publishers;
}

}  // namespace ballast::net

#pragma once
// The queues of a running broker with messages that cannot be read back, for its health report
// (GET /api/v1/status, `ballast doctor --server`): noted by recovery (messages in a damaged
// journal range) and by delivery (a record that no longer reads).
// Not thread-safe: the broker thread owns it.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"

namespace ballast::broker {

class DamagedQueues {
 public:
  // Notes that message `key` of that queue cannot be read (noting it again counts it once);
  // the first note's code and message stay.
  void note(const std::string& vhost, const std::string& name, ErrorCode code, uint64_t key,
            const std::string& message);
  // Forgets every queue for which `exists(vhost, name)` is false (it was deleted).
  void retain(const std::function<bool(const std::string& vhost, const std::string& name)>& exists);
  // Every damaged queue, by vhost and name.
  std::vector<DamagedQueue> list() const;

 private:
  struct Noted {
    DamagedQueue queue;
    std::set<uint64_t> keys;  // the unreadable messages
  };
  std::map<std::pair<std::string, std::string>, Noted> queues_;
};

}  // namespace ballast::broker

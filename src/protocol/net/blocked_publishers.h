#pragma once
// The publishers a front end has told to stop publishing (AMQP: connection.blocked), for the
// live status a running broker reports (GET /api/v1/status, `ballast doctor --server`).
// The front end that blocks a connection adds it and removes it when it unblocks or closes it;
// another front end (HTTP) only reads. ballastd owns the one table and hands it to both, so
// neither front end depends on the other.
// Thread-safe: every call takes one mutex, held only to copy entries in or out.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "util/error_code.h"

namespace ballast::net {

struct BlockedPublisher {
  uint64_t connection_id = 0;                   // unique within its protocol for the life of the process
  std::string protocol;                         // "amqp"
  std::string peer;                             // the client's address, "127.0.0.1:53124"
  std::string user;                             // the user it logged in as
  std::string vhost;                            // the virtual host it opened
  int64_t since_unix_ms = 0;                    // when it was told, milliseconds since the Unix epoch
  ErrorCode code = ErrorCode::kStorageIoError;  // why publishing is refused
  std::string reason;                           // the text the client was sent (code, message, fix)
};

class BlockedPublishers {
 public:
  // Adds `publisher`, or replaces the entry with the same protocol and connection id.
  void add(BlockedPublisher publisher);
  // Removes that connection's entry, if any.
  void remove(const std::string& protocol, uint64_t connection_id);
  // Every entry, longest blocked first.
  std::vector<BlockedPublisher> list() const;

 private:
  using Key = std::pair<std::string, uint64_t>;  // protocol, connection id
  mutable std::mutex mu_;
  std::map<Key, BlockedPublisher> entries_;  // guarded by mu_
};

}  // namespace ballast::net

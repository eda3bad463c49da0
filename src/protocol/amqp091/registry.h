#pragma once
// What AMQP connections share: which connection owns each exclusive queue, and every consumer
// by queue (for declare-ok's consumer count, delete's if-unused, and the server-sent
// basic.cancel when a queue is deleted). Not persistent: consumers and exclusive queues live as
// long as their connection.
// Threading: used only on the AMQP I/O thread, which runs every connection; no lock.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ballast::amqp {

class Connection;

class Registry {
 public:
  using QueueKey = std::pair<std::string, std::string>;  // vhost, queue name

  uint64_t next_connection_id() { return ++last_connection_id_; }
  uint64_t next_waiter_id() { return ++last_waiter_id_; }

  // The connection that declared `queue` exclusive, or 0.
  uint64_t exclusive_owner(const QueueKey& queue) const;
  void set_exclusive_owner(const QueueKey& queue, uint64_t connection_id);
  void forget_queue(const QueueKey& queue);

  void add_consumer(const QueueKey& queue, const std::shared_ptr<Connection>& connection, uint16_t channel,
                    const std::string& tag, bool exclusive);
  void remove_consumer(const QueueKey& queue, uint64_t connection_id, uint16_t channel,
                       const std::string& tag);
  uint32_t consumer_count(const QueueKey& queue) const;
  bool has_exclusive_consumer(const QueueKey& queue) const;
  // x-expires: `queue` is deleted once it has had no consumer and no use for `expires_ms`.
  void track_expiry(const QueueKey& queue, uint64_t expires_ms, int64_t now_ms);
  // A declare, basic.get or consume of `queue` (restarts its expiry clock).
  void note_use(const QueueKey& queue, int64_t now_ms);
  // The queues whose expiry has passed (forgotten here; the caller deletes them).
  std::vector<QueueKey> take_expired(int64_t now_ms);

  // Tells every consumer of `queue` it was cancelled (basic.cancel from the server) and
  // forgets them; run after the queue was deleted.
  void cancel_consumers(const QueueKey& queue);

 private:
  struct ConsumerRef {
    std::weak_ptr<Connection> connection;
    uint64_t connection_id = 0;
    uint16_t channel = 0;
    std::string tag;
    bool exclusive = false;
  };
  uint64_t last_connection_id_ = 0;
  uint64_t last_waiter_id_ = 0;
  std::map<QueueKey, uint64_t> exclusive_owners_;
  std::map<QueueKey, std::vector<ConsumerRef>> consumers_;
  struct Expiry {
    uint64_t expires_ms = 0;
    int64_t last_used_ms = 0;
  };
  std::map<QueueKey, Expiry> expiring_;
};

}  // namespace ballast::amqp

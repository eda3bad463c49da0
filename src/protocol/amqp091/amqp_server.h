#pragma once
// The AMQP 0-9-1 front end: listens on one or more addresses (IPv4 or [IPv6]:port) and runs
// one Connection per socket. Boost.Asio stays inside src/protocol/amqp.
//
// Threading: one I/O thread runs every socket, every Connection and the Registry; broker
// callbacks are posted onto it. bound_addresses() is thread-safe; stop() is idempotent, closes
// the listeners and every connection (their unacked deliveries go back to their queues) and
// joins the thread.
// Lifetime: the Broker and the BlockedPublishers table must outlive the server (call stop()
// first).
// Every connection sent connection.blocked is listed in the BlockedPublishers table (protocol
// "amqp") until it is sent connection.unblocked or closes; the table is checked once a second,
// with the broker's publish refusal.

#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "protocol/amqp091/connection.h"
#include "protocol/net/blocked_publishers.h"
#include "util/result.h"

namespace ballast::amqp {

struct AmqpServerOptions {
  std::vector<std::string> listen;  // amqp.listen; "127.0.0.1:5672", "[::1]:5672"; port 0 = any free
  bool insecure_remote = false;     // --insecure-remote: allow a non-loopback address
  AmqpOptions connection;
};

class AmqpServer {
 public:
  // Binds every address; fails with INVALID_ARGUMENT for a malformed or (without
  // insecure_remote) non-loopback address and LISTEN_FAILED naming the address otherwise.
  static Result<std::unique_ptr<AmqpServer>> start(const AmqpServerOptions& options, broker::Broker& broker,
                                                   net::BlockedPublishers& blocked_publishers);
  virtual ~AmqpServer() = default;

  // The real addresses, in the order given ("127.0.0.1:5672", "[::1]:5672").
  virtual std::vector<std::string> bound_addresses() const = 0;
  virtual void stop() = 0;
};

}  // namespace ballast::amqp

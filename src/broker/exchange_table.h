#pragma once
// The exchanges of one vhost and their bindings to queues, and routing through them: direct
// (routing key equals binding key), fanout (every binding), topic (dot-separated words; `*` is
// one word, `#` zero or more) and headers (x-match all / any over the binding's arguments).
// The default exchange "" is implicit: it routes a key to the queue of that name, which the
// caller resolves. The amq.* exchanges always exist.
// Stored whole in one journal record on every change (docs/formats/journal.md, "Exchanges").
// Not thread-safe: owned by the broker thread.

#include <map>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "util/result.h"

namespace ballast::broker {

class ExchangeTable {
 public:
  ExchangeTable();

  bool exists(const std::string& name) const { return name.empty() || exchanges_.contains(name); }
  const ExchangeSettings* find(const std::string& name) const;
  static bool predeclared(const std::string& name);

  // Creates it, or checks it matches (QUEUE_EXISTS_DIFFERENT naming the exchange and the
  // differing fields). Sets `changed` when something was created.
  Status declare(const std::string& vhost, const std::string& name, const ExchangeSettings& settings,
                 bool& changed);
  Status remove(const std::string& vhost, const std::string& name, bool if_unused);
  // Adds (idempotent) or removes a binding; sets `changed` when the table changed. An
  // auto-delete exchange is removed with its last binding.
  Status bind(const std::string& vhost, const Binding& binding, bool& changed);
  Status unbind(const std::string& vhost, const Binding& binding, bool& changed);
  // Removes every binding to `queue`; true if any existed.
  bool forget_queue(const std::string& queue);

  // Names of the queues `exchange` routes this message to (no duplicates; never the default
  // exchange, which the caller handles).
  std::vector<std::string> route(const std::string& exchange, const std::string& routing_key,
                                 const std::vector<std::pair<std::string, std::string>>& headers) const;

  std::string encode() const;
  // Replaces the table with a decoded one; false if the bytes do not parse. Non-durable
  // exchanges are not restored (`after_restart`), as in RabbitMQ.
  bool decode(std::string_view encoded, bool after_restart);

 private:
  struct Exchange {
    ExchangeSettings settings;
    std::vector<Binding> bindings;
  };
  std::map<std::string, Exchange> exchanges_;
};

// Topic-exchange match of a routing key against a binding pattern.
bool topic_matches(std::string_view pattern, std::string_view routing_key);
// Headers-exchange match of message headers against a binding's arguments.
bool headers_match(const std::vector<std::pair<std::string, std::string>>& arguments,
                   const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace ballast::broker

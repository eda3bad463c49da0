// Connection: queue.* and exchange.* methods. Each pauses the connection until the broker
// answers (see connection.h, "Ordering").
#include <random>

#include "fmt/format.h"
#include "protocol/amqp091/connection.h"
#include "protocol/amqp091/message_mapping.h"
#include "protocol/amqp091/queue_arguments.h"

namespace ballast::amqp {
namespace {

std::string server_named_queue() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("amq.gen-{:016x}{:016x}", random(), random());
}

bool reserved_name(const std::string& name) {
  return name.starts_with("amq.");
}

}  // namespace

bool Connection::refuse_if_exclusive_elsewhere(Channel& channel, const std::string& queue, MethodId id) {
  const uint64_t owner = registry_.exclusive_owner({vhost_, queue});
  if (owner == 0 || owner == id_) return false;
  channel_error(
      channel.id, 405,
      fmt::format("RESOURCE_LOCKED - ACCESS_REFUSED: queue \"{}\" is exclusive to another connection. "
                  "Fix: use another queue name, or use it from the connection that declared it",
                  queue),
      id);
  return true;
}

void Connection::queue_declare(Channel& channel, const QueueDeclare& method) {
  const MethodId id{QueueDeclare::kClassId, QueueDeclare::kMethodId};
  std::string name = method.queue.empty() && !method.passive ? server_named_queue() : method.queue;
  if (refuse_if_exclusive_elsewhere(channel, name, id)) return;
  auto reply = [channel_id = channel.id, method, id, name](Connection& self, Result<broker::QueueInfo> info) {
    if (self.state_ == State::kClosed) {
      // The connection went while the declare was out: an exclusive queue dies with it.
      if (info && method.exclusive && !method.passive) {
        self.broker_.delete_queue(self.vhost_, name,
                                  log_failed_delete(name, "exclusive queue of a closed connection"));
      }
      return;
    }
    if (!info) {
      self.channel_error(channel_id, info.error(), id);
      return self.resume();
    }
    const Registry::QueueKey key{self.vhost_, name};
    // A declare restarts an x-expires clock; a passive one only looks.
    if (info->settings.expires_ms && !method.passive) {
      self.registry_.track_expiry(key, *info->settings.expires_ms, steady_now_ms());
    }
    if (method.exclusive && !method.passive) {
      self.registry_.set_exclusive_owner(key, self.id_);
      self.exclusive_queues_.insert(name);
    }
    if (!method.nowait) {
      self.send(channel_id, QueueDeclareOk{name, static_cast<uint32_t>(info->stats.messages),
                                           self.registry_.consumer_count(key)});
    }
    self.resume();
  };
  flush_publishes();
  flush_acks();
  pause();
  if (method.passive) {
    broker_.queue_info(vhost_, name, on_answer<broker::QueueInfo>(reply));
    return;
  }
  if (reserved_name(name) && !method.queue.empty()) {
    channel_error(
        channel.id, 403,
        fmt::format("ACCESS_REFUSED - ACCESS_REFUSED: queue name \"{}\" starts with \"amq.\", which is "
                    "reserved. Fix: choose another name",
                    name),
        id);
    return resume();
  }
  auto settings = queue_settings_from_arguments(method.arguments, name);
  if (!settings) {
    channel_error(channel.id, settings.error(), id);
    return resume();
  }
  settings->durable = method.durable;
  settings->auto_delete = method.auto_delete;
  broker_.create_queue(
      vhost_, name, *settings,
      on_answer<broker::CreateQueueOutcome>([name, reply](Connection& self, auto created) mutable {
        if (!created) return reply(self, std::move(created).error());
        self.broker_.queue_info(self.vhost_, name, self.on_answer<broker::QueueInfo>(reply));
      }));
}

void Connection::queue_delete(Channel& channel, const QueueDelete& method) {
  const MethodId id{QueueDelete::kClassId, QueueDelete::kMethodId};
  if (refuse_if_exclusive_elsewhere(channel, method.queue, id)) return;
  const Registry::QueueKey key{vhost_, method.queue};
  if (method.if_unused && registry_.consumer_count(key) > 0) {
    channel_error(
        channel.id, 406,
        fmt::format("PRECONDITION_FAILED - INVALID_ARGUMENT: queue \"{}\" has {} consumers and if-unused "
                    "is set. Fix: cancel its consumers first",
                    method.queue, registry_.consumer_count(key)),
        id);
    return;
  }
  flush_publishes();
  flush_acks();
  pause();
  broker_.queue_info(
      vhost_, method.queue,
      on_answer<broker::QueueInfo>([channel_id = channel.id, method, id](Connection& self, auto info) {
        if (!info) {
          // Deleting a queue that does not exist succeeds, as in RabbitMQ.
          if (info.error().code() == ErrorCode::kQueueNotFound ||
              info.error().code() == ErrorCode::kNotFound) {
            if (!method.nowait) self.send(channel_id, QueueDeleteOk{0});
          } else {
            self.channel_error(channel_id, info.error(), id);
          }
          return self.resume();
        }
        const uint64_t count = info->stats.messages + info->stats.in_flight + info->stats.delayed;
        if (method.if_empty && count > 0) {
          self.channel_error(
              channel_id, 406,
              fmt::format("PRECONDITION_FAILED - INVALID_ARGUMENT: queue \"{}\" holds {} messages and "
                          "if-empty is set. Fix: purge or drain it first",
                          method.queue, count),
              id);
          return self.resume();
        }
        self.broker_.delete_queue(
            self.vhost_, method.queue,
            self.on_answer<void>([channel_id, method, id, count](Connection& self, Result<void> deleted) {
              if (!deleted) {
                self.channel_error(channel_id, deleted.error(), id);
                return self.resume();
              }
              const Registry::QueueKey key{self.vhost_, method.queue};
              self.registry_.forget_queue(key);
              self.exclusive_queues_.erase(method.queue);
              self.registry_.cancel_consumers(key);
              if (!method.nowait) self.send(channel_id, QueueDeleteOk{static_cast<uint32_t>(count)});
              self.resume();
            }));
      }));
}

void Connection::queue_purge(Channel& channel, const QueuePurge& method) {
  const MethodId id{QueuePurge::kClassId, QueuePurge::kMethodId};
  if (refuse_if_exclusive_elsewhere(channel, method.queue, id)) return;
  flush_publishes();
  flush_acks();
  pause();
  broker_.purge_queue(
      vhost_, method.queue,
      on_answer<broker::SettleOutcome>([channel_id = channel.id, method, id](Connection& self, auto purged) {
        if (!purged) {
          self.channel_error(channel_id, purged.error(), id);
        } else if (!method.nowait) {
          self.send(channel_id, QueuePurgeOk{static_cast<uint32_t>(purged->settled)});
        }
        self.resume();
      }));
}

void Connection::queue_bind(Channel& channel, const QueueBind& method, bool unbind) {
  const MethodId id = unbind ? MethodId{QueueUnbind::kClassId, QueueUnbind::kMethodId}
                             : MethodId{QueueBind::kClassId, QueueBind::kMethodId};
  if (refuse_if_exclusive_elsewhere(channel, method.queue, id)) return;
  broker::Binding binding{method.exchange, method.queue, method.routing_key, {}};
  if (!table_as_text(method.arguments, binding.arguments)) {
    channel_error(channel.id, 406,
                  "PRECONDITION_FAILED - INVALID_ARGUMENT: the binding arguments do not parse", id);
    return;
  }
  flush_publishes();
  flush_acks();
  pause();
  auto reply = on_answer<void>([channel_id = channel.id, nowait = method.nowait && !unbind, unbind, id](
                                   Connection& self, Result<void> result) {
    if (!result) {
      self.channel_error(channel_id, result.error(), id);
    } else if (unbind) {
      self.send(channel_id, QueueUnbindOk{});
    } else if (!nowait) {
      self.send(channel_id, QueueBindOk{});
    }
    self.resume();
  });
  if (unbind) {
    broker_.unbind(vhost_, std::move(binding), std::move(reply));
  } else {
    broker_.bind(vhost_, std::move(binding), std::move(reply));
  }
}

void Connection::exchange_declare(Channel& channel, const ExchangeDeclare& method) {
  const MethodId id{ExchangeDeclare::kClassId, ExchangeDeclare::kMethodId};
  auto type = broker::parse_exchange_type(method.type);
  if (!type && !method.passive) {
    connection_error(
        503,
        fmt::format("COMMAND_INVALID - INVALID_ARGUMENT: exchange \"{}\" has unknown type \"{}\"; use "
                    "direct, fanout, topic or headers",
                    method.exchange, method.type),
        id);
    return;
  }
  broker::ExchangeSettings settings;
  settings.type = type.value_or(broker::ExchangeType::kDirect);
  settings.durable = method.durable;
  settings.auto_delete = method.auto_delete;
  settings.internal = method.internal;
  flush_publishes();
  flush_acks();
  pause();
  broker_.declare_exchange(vhost_, method.exchange, settings, method.passive,
                           on_answer<void>([channel_id = channel.id, nowait = method.nowait, id](
                                               Connection& self, Result<void> result) {
                             if (!result) {
                               self.channel_error(channel_id, result.error(), id);
                             } else if (!nowait) {
                               self.send(channel_id, ExchangeDeclareOk{});
                             }
                             self.resume();
                           }));
}

void Connection::exchange_delete(Channel& channel, const ExchangeDelete& method) {
  const MethodId id{ExchangeDelete::kClassId, ExchangeDelete::kMethodId};
  flush_publishes();
  flush_acks();
  pause();
  broker_.delete_exchange(vhost_, method.exchange, method.if_unused,
                          on_answer<void>([channel_id = channel.id, nowait = method.nowait, id](
                                              Connection& self, Result<void> result) {
                            if (!result) {
                              self.channel_error(channel_id, result.error(), id);
                            } else if (!nowait) {
                              self.send(channel_id, ExchangeDeleteOk{});
                            }
                            self.resume();
                          }));
}

}  // namespace ballast::amqp

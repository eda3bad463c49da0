// BrokerCore: exchanges, bindings and publishing through them (publish_routed). The exchange
// tables change on the broker thread and are journalled whole per vhost (kExchangesChanged).
#include <set>

#include "broker/broker_core.h"
#include "util/log.h"

namespace ballast::broker {

MessageAppendedRecord message_record(const Queue& queue, const PublishRequest& request, int64_t now) {
  MessageAppendedRecord record;
  record.message_id = request.id;
  record.priority = request.priority;
  if (queue.settings().max_priority)
    record.priority = std::min(record.priority, *queue.settings().max_priority);
  record.published_at_ms = now;
  // The shortest of the queue's TTL and the message's own (in seconds over HTTP, in ms over AMQP).
  std::optional<uint64_t> ttl_ms = queue.settings().message_ttl_ms;
  const auto shorten = [&ttl_ms](uint64_t ms) { ttl_ms = ttl_ms ? std::min(*ttl_ms, ms) : ms; };
  if (request.ttl_seconds) shorten(uint64_t{*request.ttl_seconds} * 1000);
  if (request.ttl_ms) shorten(*request.ttl_ms);
  // Capped where it cannot overflow (about 292 million years).
  if (ttl_ms) record.expires_at_ms = now + static_cast<int64_t>(std::min<uint64_t>(*ttl_ms, INT64_MAX / 2));
  if (request.delay_seconds && *request.delay_seconds > 0) {
    record.deliver_at_ms = now + static_cast<int64_t>(*request.delay_seconds) * 1000;
  }
  record.properties = encode_properties(request.properties);
  return record;
}

ExchangeTable& BrokerCore::exchanges_of(const std::string& vhost) {
  return exchanges_[vhost];
}

void BrokerCore::plan_exchanges_record(CommitPlan& plan, const std::string& vhost) {
  std::string payload;
  ByteWriter writer(payload);
  writer.str(vhost);
  writer.str(exchanges_of(vhost).encode());
  // Ignorable: a binary from before exchanges existed skips it (and keeps every queue).
  plan.add({static_cast<uint16_t>(RecordType::kExchangesChanged), true, std::move(payload)});
}

void BrokerCore::change_exchanges(const std::string& vhost, const ExchangeChange& change,
                                  Callback<void> done) {
  // Refused before anything changes: memory never holds a table the journal does not.
  if (auto refusal = storage_refusal()) return done(std::move(*refusal));
  ExchangeTable& table = exchanges_of(vhost);
  ExchangeTable before = table;
  bool changed = false;
  auto status = change(table, changed);
  if (!status || !changed) return done(std::move(status));
  CommitPlan plan;
  plan_exchanges_record(plan, vhost);
  plan.on_failed.push_back([this, vhost, before = std::move(before)] { exchanges_[vhost] = before; });
  auto submitted = submit(std::move(plan), [done](Status committed) { done(std::move(committed)); });
  if (!submitted) done(std::move(submitted));
}

void BrokerCore::declare_exchange(std::string vhost, std::string name, ExchangeSettings settings,
                                  bool passive, Callback<void> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), settings, passive, done]() mutable {
    if (passive) {
      if (exchanges_of(vhost).exists(name)) return done(ok_status());
      return done(Error(ErrorCode::kNotFound,
                        fmt::format("exchange \"{}\" does not exist in vhost \"{}\"", name, vhost),
                        "declare it without passive first"));
    }
    change_exchanges(
        vhost,
        [&](ExchangeTable& table, bool& changed) {
          auto status = table.declare(vhost, name, settings, changed);
          if (status && changed) {
            log::event(log::Level::kInfo, "broker.exchange_declared",
                       {log::kv("vhost", vhost), log::kv("exchange", name),
                        log::kv("type", exchange_type_name(settings.type))});
          }
          return status;
        },
        std::move(done));
  });
}

void BrokerCore::delete_exchange(std::string vhost, std::string name, bool if_unused, Callback<void> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), if_unused, done]() mutable {
    change_exchanges(
        vhost,
        [&](ExchangeTable& table, bool& changed) {
          auto status = table.remove(vhost, name, if_unused);
          changed = static_cast<bool>(status);
          if (changed) {
            log::event(log::Level::kInfo, "broker.exchange_deleted",
                       {log::kv("vhost", vhost), log::kv("exchange", name)});
          }
          return status;
        },
        std::move(done));
  });
}

void BrokerCore::bind(std::string vhost, Binding binding, Callback<void> done) {
  on_loop(done, [this, vhost = std::move(vhost), binding = std::move(binding), done]() mutable {
    auto queue = require_queue(vhost, binding.queue);
    if (!queue) return done(std::move(queue).error());
    change_exchanges(
        vhost, [&](ExchangeTable& table, bool& changed) { return table.bind(vhost, binding, changed); },
        std::move(done));
  });
}

void BrokerCore::unbind(std::string vhost, Binding binding, Callback<void> done) {
  on_loop(done, [this, vhost = std::move(vhost), binding = std::move(binding), done]() mutable {
    change_exchanges(
        vhost, [&](ExchangeTable& table, bool& changed) { return table.unbind(vhost, binding, changed); },
        std::move(done));
  });
}

std::vector<Queue*> BrokerCore::route_targets(const std::string& vhost, const RoutedMessage& message,
                                              std::optional<Error>& refused) {
  std::vector<Queue*> targets;
  if (message.exchange.empty()) {
    if (Queue* queue = find_queue(vhost, message.routing_key)) targets.push_back(queue);
    return targets;
  }
  ExchangeTable& table = exchanges_of(vhost);
  const ExchangeSettings* exchange = table.find(message.exchange);
  if (exchange == nullptr) {
    refused = Error(ErrorCode::kNotFound,
                    fmt::format("exchange \"{}\" does not exist in vhost \"{}\"", message.exchange, vhost),
                    "declare the exchange before publishing to it");
    return targets;
  }
  if (exchange->internal) {
    refused = Error(ErrorCode::kAccessRefused,
                    fmt::format("exchange \"{}\" is internal: it takes messages only from other exchanges",
                                message.exchange),
                    "publish to a non-internal exchange");
    return targets;
  }
  for (const std::string& name : table.route(message.exchange, message.routing_key, message.match_headers)) {
    if (Queue* queue = find_queue(vhost, name)) targets.push_back(queue);
  }
  return targets;
}

void BrokerCore::do_publish_routed(const std::string& vhost, std::vector<RoutedMessage>& messages,
                                   Callback<std::vector<RouteResult>> done) {
  std::vector<RouteResult> results(messages.size());
  std::map<Queue*, std::vector<size_t>> per_queue = route_all(vhost, messages, results);
  if (publish_filter_ != nullptr && publish_filter_->filters_any(vhost)) {
    done = divert_filtered(vhost, messages, per_queue, std::move(done));
  }
  commit_routed(CommitPlan{}, messages, per_queue, std::move(results), std::move(done));
}

std::map<Queue*, std::vector<size_t>> BrokerCore::route_all(const std::string& vhost,
                                                            std::vector<RoutedMessage>& messages,
                                                            std::vector<RouteResult>& results) {
  const std::optional<Error> growth = growth_refusal();
  std::map<Queue*, std::vector<size_t>> per_queue;
  for (size_t i = 0; i < messages.size(); ++i) {
    PublishRequest& request = messages[i].request;
    if (request.body.size() > options_.max_message_bytes) {
      results[i].refused =
          Error(ErrorCode::kMessageTooLarge,
                fmt::format("a message to exchange \"{}\" has a {}-byte body, over the limit of {} "
                            "bytes set by limits.max_message_bytes",
                            messages[i].exchange, request.body.size(), options_.max_message_bytes),
                "split the payload, or raise limits.max_message_bytes");
      continue;
    }
    auto targets = route_targets(vhost, messages[i], results[i].refused);
    if (targets.empty()) continue;
    if (growth) {
      results[i].refused = *growth;
      continue;
    }
    if (request.id.empty()) request.id = new_message_id();
    for (Queue* queue : targets) per_queue[queue].push_back(i);
  }
  return per_queue;
}

void BrokerCore::commit_routed(CommitPlan plan, std::vector<RoutedMessage>& messages,
                               std::map<Queue*, std::vector<size_t>>& per_queue,
                               std::vector<RouteResult> results, Callback<std::vector<RouteResult>> done) {
  const int64_t now = clock_->wall_ms();
  std::map<uint64_t, uint64_t> published_per_queue;
  std::vector<uint32_t> targets_left(messages.size(), 0);
  for (const auto& [queue, indices] : per_queue) {
    for (size_t i : indices) ++targets_left[i];
  }
  for (auto& [queue, indices] : per_queue) {
    const std::vector<size_t> accepted = admit(*queue, messages, indices, now, results, plan);
    for (size_t i : accepted) {
      ++results[i].queues;
      MessageAppendedRecord record = message_record(*queue, messages[i].request, now);
      // The body is copied for every queue but the last that takes it, which gets it moved.
      const bool last = --targets_left[i] == 0;
      record.body = last ? std::move(messages[i].request.body) : messages[i].request.body;
      const auto body_bytes = static_cast<uint32_t>(record.body.size());
      plan_append(plan, *queue, std::move(record), body_bytes);
    }
    published_per_queue[queue->id()] += accepted.size();
  }
  if (plan.empty()) return done(std::move(results));
  plan.on_durable.push_back([this, published_per_queue] {
    for (const auto& [queue_id, count] : published_per_queue) {
      auto target = queues_.find(queue_id);
      if (target != queues_.end()) target->second->publish_rate().add(count, clock_->monotonic_ms());
    }
  });
  auto status = submit(std::move(plan), [done, results = std::move(results)](Status committed) mutable {
    if (!committed) return done(std::move(committed).error());
    done(std::move(results));
  });
  if (!status) done(std::move(status).error());
}

std::vector<size_t> BrokerCore::admit(Queue& queue, const std::vector<RoutedMessage>& messages,
                                      const std::vector<size_t>& indices, int64_t now,
                                      std::vector<RouteResult>& results, CommitPlan& plan) {
  std::vector<size_t> accepted;
  const bool dedup = queue.settings().dedup_window_seconds > 0;
  std::set<std::string> ids_in_batch;
  uint64_t count = 0, bytes = 0;
  for (size_t i : indices) {
    const PublishRequest& request = messages[i].request;
    if (dedup && (ids_in_batch.contains(request.id) || queue.is_duplicate(request.id, now))) {
      ++results[i].queues;  // stored before, inside the window: a success
      continue;
    }
    if (queue.settings().overflow == Overflow::kRejectPublish) {
      CommitPlan unused;
      auto room = plan_room(queue, count + 1, bytes + request.body.size(), unused);
      if (!room) {
        results[i].refused = std::move(room).error();
        continue;
      }
    }
    ++count;
    bytes += request.body.size();
    if (dedup) ids_in_batch.insert(request.id);
    accepted.push_back(i);
  }
  if (queue.settings().overflow == Overflow::kDropHead && !accepted.empty()) {
    auto room = plan_room(queue, count, bytes, plan);
    if (!room) {
      for (size_t i : accepted) results[i].refused = room.error();
      return {};
    }
  }
  if (dedup) {
    for (const std::string& id : ids_in_batch) queue.remember_id(id, now);
    if (!ids_in_batch.empty()) plan.on_failed.push_back(forget_ids_on_failure(queue, ids_in_batch, now));
  }
  return accepted;
}

void BrokerCore::publish_routed(std::string vhost, std::vector<RoutedMessage> messages,
                                Callback<std::vector<RouteResult>> done) {
  on_loop(done, [this, vhost = std::move(vhost), messages = std::move(messages), done]() mutable {
    do_publish_routed(vhost, messages, std::move(done));
  });
}

}  // namespace ballast::broker

// BrokerCore: publish filters (docs/plugins.md). A publish to a queue with a filter waits for
// the filter's verdicts (the filter answers within its deadline, by policy when it cannot) and
// is then stored by them in one commit. Held messages wait in "ballast.held.<queue>" and are
// filtered again, then moved, once the filter is back. Broker thread only, except the filter's
// callbacks, which post back to it.
#include <algorithm>

#include "broker/broker_core.h"
#include "util/log.h"

namespace ballast::broker {

namespace {

constexpr std::string_view kBypassHeader = "x-ballast-filter-bypassed";
// Held messages sent through a filter that is back, per queue and call.
constexpr uint32_t kReleaseBatch = 64;

std::string held_queue_name(std::string_view queue) {
  return fmt::format("{}{}", kHeldQueuePrefix, queue);
}

Error for_message(const Error& error, size_t index, size_t count) {
  return Error(error.code(), fmt::format("message {} of {}: {}", index, count, error.message()), error.fix());
}

// A message published over AMQP carries its headers in its wire properties; the filter saw them
// as text (`wire_headers`). Only what the filter added or changed is kept beside them.
void drop_wire_headers(MessageProperties& properties,
                       const std::vector<std::pair<std::string, std::string>>& wire_headers) {
  if (properties.amqp_properties.empty()) return;
  std::erase_if(properties.headers, [&](const auto& header) {
    return std::find(wire_headers.begin(), wire_headers.end(), header) != wire_headers.end();
  });
}

PublishRequest request_from(DeliveredMessage& message, int64_t now_wall_ms) {
  PublishRequest request;
  request.id = std::move(message.id);
  request.body = std::move(message.body);
  request.properties = std::move(message.properties);
  request.priority = message.priority;
  if (message.expires_at_ms) {
    request.ttl_ms = static_cast<uint64_t>(std::max<int64_t>(1, *message.expires_at_ms - now_wall_ms));
  }
  return request;
}

}  // namespace

// The results of a routed publish whose messages went partly through filters: one part per
// filtered queue and one for the rest; the publisher is answered when the last part is.
struct BrokerCore::RoutedJoin {
  explicit RoutedJoin(Callback<std::vector<RouteResult>> answer) : done(std::move(answer)) {}
  Callback<std::vector<RouteResult>> done;
  std::vector<RouteResult> results;
  std::optional<Error> failed;  // a part's commit failed as a whole
  size_t parts = 0;

  // `part` holds one result per message of the whole publish.
  void finish(Result<std::vector<RouteResult>> part) {
    if (!part) {
      if (!failed) failed = std::move(part).error();
    } else {
      for (size_t i = 0; i < results.size() && i < part->size(); ++i) {
        results[i].queues += (*part)[i].queues;
        if ((*part)[i].refused && !results[i].refused) results[i].refused = std::move((*part)[i].refused);
      }
    }
    if (--parts > 0) return;
    if (failed) return done(std::move(*failed));
    done(std::move(results));
  }
};

void BrokerCore::set_publish_filter(PublishFilter* filter) {
  BALLAST_CHECK(!running_, "set_publish_filter after run()");
  publish_filter_ = filter;
}

void BrokerCore::filter_publish(const std::string& vhost, const std::string& name,
                                std::vector<PublishRequest> messages, std::set<std::string> ids,
                                PublishOutcome outcome, Callback<PublishOutcome> done) {
  publish_filter_->filter(
      vhost, name, std::move(messages),
      [this, vhost, name, ids = std::move(ids), outcome = std::move(outcome),
       done](std::vector<FilterVerdict> verdicts) mutable {
        const bool posted = !stopping_.load() && loop_.post([this, vhost, name, ids, outcome, done,
                                                             verdicts = std::move(verdicts)]() mutable {
          store_filtered(vhost, name, verdicts, ids, std::move(outcome), std::move(done));
        });
        if (!posted) done(shutting_down_error());
      });
}

Result<Queue*> BrokerCore::verdict_target(Queue& source, FilterVerdict& verdict, CommitPlan& plan) {
  if (verdict.action != FilterAction::kRefuse && verdict.message.body.size() > options_.max_message_bytes) {
    return Error(
        ErrorCode::kMessageTooLarge,
        fmt::format("the filter of queue \"{}\" (vhost \"{}\") rewrote the message to a {}-byte body, "
                    "over the limit of {} bytes set by limits.max_message_bytes",
                    source.name(), source.vhost(), verdict.message.body.size(), options_.max_message_bytes),
        "fix the plug-in's rewrite rules, or raise limits.max_message_bytes");
  }
  switch (verdict.action) {
    case FilterAction::kAccept:
      return &source;
    case FilterAction::kBypass:
      verdict.message.properties.headers.emplace_back(kBypassHeader, verdict.bypass_header);
      return &source;
    case FilterAction::kHold:
      return &queue_or_create(source.vhost(), held_queue_name(source.name()), plan);
    case FilterAction::kReroute:
      if (Queue* target = find_queue(source.vhost(), verdict.queue)) return target;
      return Error(ErrorCode::kQueueNotFound,
                   fmt::format("the filter of queue \"{}\" (vhost \"{}\") rerouted the message to queue "
                               "\"{}\", which does not exist",
                               source.name(), source.vhost(), verdict.queue),
                   fmt::format("create queue \"{}\", or change the filter's rules", verdict.queue));
    case FilterAction::kRefuse:
      break;
  }
  BALLAST_CHECK(verdict.refusal.has_value(), "a refusing verdict without its error");
  return *verdict.refusal;
}

void BrokerCore::store_filtered(const std::string& vhost, const std::string& name,
                                std::vector<FilterVerdict>& verdicts, const std::set<std::string>& ids,
                                PublishOutcome outcome, Callback<PublishOutcome> done) {
  auto source = require_queue(vhost, name);
  if (!source) return done(std::move(source).error());
  if (auto refusal = growth_refusal()) return done(std::move(*refusal));
  CommitPlan plan;
  std::vector<PublishGroup> groups;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    auto target = verdict_target(**source, verdicts[i], plan);
    if (!target) {
      undo(plan);
      return done(for_message(target.error(), i, verdicts.size()));
    }
    auto group =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.queue == *target; });
    if (group == groups.end()) group = groups.insert(groups.end(), PublishGroup{*target, {}});
    group->messages.push_back(std::move(verdicts[i].message));
  }
  commit_publish(std::move(plan), groups, **source, ids, std::move(outcome), std::move(done));
}

Callback<std::vector<RouteResult>> BrokerCore::divert_filtered(
    const std::string& vhost, std::vector<RoutedMessage>& messages,
    std::map<Queue*, std::vector<size_t>>& per_queue, Callback<std::vector<RouteResult>> done) {
  auto join = std::make_shared<RoutedJoin>(std::move(done));
  join->results.resize(messages.size());
  for (auto it = per_queue.begin(); it != per_queue.end();) {
    Queue* queue = it->first;
    if (!publish_filter_->filters(vhost, queue->name())) {
      ++it;
      continue;
    }
    std::vector<size_t> indices = std::move(it->second);
    it = per_queue.erase(it);
    std::vector<PublishRequest> copies;
    std::vector<std::vector<std::pair<std::string, std::string>>> wire_headers;
    for (size_t i : indices) {
      PublishRequest copy = messages[i].request;
      if (!copy.properties.amqp_properties.empty()) copy.properties.headers = messages[i].match_headers;
      wire_headers.push_back(messages[i].match_headers);
      copies.push_back(std::move(copy));
    }
    ++join->parts;
    publish_filter_->filter(
        vhost, queue->name(), std::move(copies),
        [this, vhost, name = queue->name(), indices = std::move(indices),
         wire_headers = std::move(wire_headers), join](std::vector<FilterVerdict> verdicts) mutable {
          for (size_t k = 0; k < verdicts.size() && k < wire_headers.size(); ++k) {
            drop_wire_headers(verdicts[k].message.properties, wire_headers[k]);
          }
          const bool posted = !stopping_.load() && loop_.post([this, vhost, name, indices, join,
                                                               verdicts = std::move(verdicts)]() mutable {
            store_filtered_routed(vhost, name, indices, verdicts, join);
          });
          if (!posted) join->finish(shutting_down_error());
        });
  }
  ++join->parts;
  return [join](Result<std::vector<RouteResult>> part) { join->finish(std::move(part)); };
}

void BrokerCore::store_filtered_routed(const std::string& vhost, const std::string& name,
                                       std::vector<size_t> indices, std::vector<FilterVerdict>& verdicts,
                                       const std::shared_ptr<RoutedJoin>& join) {
  std::vector<RouteResult> results(join->results.size());
  auto source = require_queue(vhost, name);
  std::optional<Error> refusal = source ? growth_refusal() : std::optional<Error>(source.error());
  if (refusal) {
    for (size_t i : indices) results[i].refused = *refusal;
    return join->finish(std::move(results));
  }
  CommitPlan plan;
  std::vector<RoutedMessage> local;
  std::vector<size_t> original;  // local index -> index in the whole publish
  std::map<Queue*, std::vector<size_t>> per_queue;
  for (size_t k = 0; k < verdicts.size() && k < indices.size(); ++k) {
    auto target = verdict_target(**source, verdicts[k], plan);
    if (!target) {
      results[indices[k]].refused = std::move(target).error();
      continue;
    }
    per_queue[*target].push_back(local.size());
    original.push_back(indices[k]);
    local.push_back(RoutedMessage{{}, {}, {}, std::move(verdicts[k].message)});
  }
  commit_routed(
      std::move(plan), local, per_queue, std::vector<RouteResult>(local.size()),
      [join, original, results = std::move(results)](Result<std::vector<RouteResult>> part) mutable {
        if (!part) return join->finish(std::move(part).error());
        for (size_t k = 0; k < part->size(); ++k) results[original[k]] = std::move((*part)[k]);
        join->finish(std::move(results));
      });
}

void BrokerCore::release_held() {
  // Moving held messages grows the journal: not while growth is refused (the reserve is for acks).
  if (publish_filter_ == nullptr || growth_refusal()) return;
  std::vector<std::pair<Queue*, std::string>> due;
  for (auto& [queue_id, queue] : queues_) {
    if (!queue->name().starts_with(kHeldQueuePrefix) || queue->ready_count() == 0) continue;
    if (releasing_held_.contains(queue_id) || deleting_queues_.contains(queue_id)) continue;
    std::string target = queue->name().substr(kHeldQueuePrefix.size());
    // A queue whose filter was detached gets its held messages unfiltered.
    const bool detached = !publish_filter_->filters(queue->vhost(), target);
    if (!detached && !publish_filter_->available(queue->vhost(), target)) continue;
    if (find_queue(queue->vhost(), target) == nullptr) {
      log::limited_event(
          log::Level::kWarn, "broker.held_target_missing",
          {log::kv("queue", target), log::kv("held_queue", queue->name()),
           log::kv("fix", fmt::format("create queue \"{}\" again; its held messages wait", target))});
      continue;
    }
    due.emplace_back(queue.get(), std::move(target));
  }
  for (auto& [held, target] : due) release_held_queue(*held, target);
}

void BrokerCore::release_held_queue(Queue& held, const std::string& target_name) {
  ReceiveRequest request;
  request.max_messages = kReleaseBatch;
  request.hold_until_settled = true;
  request.receipt_strings = false;
  std::vector<DeliveredMessage> taken = take_ready(held, request);
  if (taken.empty()) return;
  releasing_held_.insert(held.id());
  const int64_t now = clock_->wall_ms();
  std::vector<uint64_t> keys;
  std::vector<PublishRequest> messages;
  for (DeliveredMessage& message : taken) {
    keys.push_back(message.lease.key);
    messages.push_back(request_from(message, now));
  }
  if (!publish_filter_->filters(held.vhost(), target_name)) {
    std::vector<FilterVerdict> accepted(messages.size());
    for (size_t k = 0; k < messages.size(); ++k) accepted[k].message = std::move(messages[k]);
    return settle_released(held.id(), std::move(keys), accepted, target_name);
  }
  publish_filter_->filter(
      held.vhost(), target_name, std::move(messages),
      [this, held_id = held.id(), keys = std::move(keys),
       target_name](std::vector<FilterVerdict> verdicts) mutable {
        // Not posted only when the broker stops: the leases end with it, the messages
        // stay held.
        loop_.post([this, held_id, keys, target_name, verdicts = std::move(verdicts)]() mutable {
          settle_released(held_id, keys, verdicts, target_name);
        });
      });
}

void BrokerCore::settle_released(uint64_t held_id, std::vector<uint64_t> keys,
                                 std::vector<FilterVerdict>& verdicts, const std::string& target_name) {
  releasing_held_.erase(held_id);
  auto found = queues_.find(held_id);
  if (found == queues_.end() || deleting_queues_.contains(held_id)) return;
  Queue& held = *found->second;
  Queue* target = find_queue(held.vhost(), target_name);
  CommitPlan plan;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (held.find(keys[k]) == nullptr) continue;
    FilterVerdict* verdict = k < verdicts.size() ? &verdicts[k] : nullptr;
    const bool still_down = verdict == nullptr || verdict->action == FilterAction::kHold ||
                            (verdict->action == FilterAction::kRefuse && verdict->refusal &&
                             verdict->refusal->code() == ErrorCode::kPluginUnavailable);
    if (target == nullptr || still_down) {
      plan_return(plan, held, keys[k]);
      continue;
    }
    auto destination = verdict_target(*target, *verdict, plan);
    if (!destination) {
      // Its publisher was answered long ago: what the filter refuses now is dead-lettered.
      plan_dead_letter(plan, held, keys[k], destination.error().message());
      continue;
    }
    // The destination's limits apply as to any publish; a message that does not fit stays held.
    if (!plan_room(**destination, 1, verdict->message.body.size(), plan)) {
      plan_return(plan, held, keys[k]);
      continue;
    }
    MessageAppendedRecord record = message_record(**destination, verdict->message, clock_->wall_ms());
    record.body = std::move(verdict->message.body);
    const auto body_bytes = static_cast<uint32_t>(record.body.size());
    plan_settle(plan, held, keys[k], SettleReason::kAcked);
    plan_append(plan, **destination, std::move(record), body_bytes);
  }
  if (plan.empty()) return;
  auto status = submit(std::move(plan), [this, held_id, keys](Status committed) {
    if (committed) return;
    // Nothing moved: the messages stay held (ready again), to be tried on a later tick.
    auto again = queues_.find(held_id);
    if (again == queues_.end()) return;
    for (uint64_t key : keys) {
      if (again->second->find_lease(key) != nullptr) again->second->requeue(key);
    }
  });
  if (!status) {
    for (uint64_t key : keys) {
      if (held.find_lease(key) != nullptr) held.requeue(key);
    }
  }
}

}  // namespace ballast::broker

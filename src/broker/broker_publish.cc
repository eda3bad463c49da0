// BrokerCore: publishing (limits, overflow, idempotent publish, atomic batches).
#include "broker/broker_core.h"
#include "util/log.h"

namespace ballast::broker {

namespace {

constexpr uint8_t kMaxPriority = 9;
constexpr size_t kMaxMessageIdBytes = 255;

Error limit_error(const Queue& queue, std::string_view what, uint64_t current, uint64_t adding,
                  uint64_t limit, std::string_view key) {
  return Error(ErrorCode::kQueueLimitReached,
               fmt::format("queue \"{}\" (vhost \"{}\") holds {} {}; {} more would pass the "
                           "limit {} set by {} (overflow = reject-publish)",
                           queue.name(), queue.vhost(), current, what, adding, limit, key),
               fmt::format("add consumers or raise {}; publishing resumes as soon as the queue "
                           "is below the limit",
                           key));
}

}  // namespace

std::string BrokerCore::new_message_id() {
  // 32 lowercase hex digits; written by hand, as it runs for every message without an id.
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = random_();
    for (int i = 15; i >= 0; --i, bits >>= 4) id[half * 16 + i] = kDigits[bits & 0xf];
  }
  return id;
}

Status BrokerCore::plan_room(Queue& queue, uint64_t count, uint64_t bytes, CommitPlan& plan) {
  const QueueSettings& settings = queue.settings();
  const auto over = [&](uint64_t dropped_count, uint64_t dropped_bytes) {
    const bool too_many =
        settings.max_length && queue.backlog_count() - dropped_count + count > *settings.max_length;
    const bool too_big =
        settings.max_bytes && queue.backlog_bytes() - dropped_bytes + bytes > *settings.max_bytes;
    return too_many || too_big;
  };
  if (!over(0, 0)) return ok_status();
  if (settings.overflow == Overflow::kRejectPublish) {
    if (settings.max_length && queue.backlog_count() + count > *settings.max_length) {
      return limit_error(queue, "messages", queue.backlog_count(), count, *settings.max_length, "max_length");
    }
    return limit_error(queue, "bytes", queue.backlog_bytes(), bytes, *settings.max_bytes, "max_bytes");
  }
  // drop-head: dead-letter the oldest ready messages until the new ones fit.
  uint64_t dropped_count = 0, dropped_bytes = 0;
  while (over(dropped_count, dropped_bytes)) {
    auto victim = queue.oldest_ready();
    if (!victim) {
      return Error(ErrorCode::kQueueLimitReached,
                   fmt::format("queue \"{}\" (vhost \"{}\") cannot make room for {} messages "
                               "({} bytes) by dropping its head: max_length = {}, max_bytes = {}",
                               queue.name(), queue.vhost(), count, bytes,
                               settings.max_length ? fmt::to_string(*settings.max_length) : "none",
                               settings.max_bytes ? fmt::to_string(*settings.max_bytes) : "none"),
                   "publish fewer or smaller messages per request, or raise the limits");
    }
    const MessageEntry* entry = queue.find(*victim);
    dropped_bytes += entry->body_bytes;
    ++dropped_count;
    plan_dead_letter(plan, queue, *victim, "max_length");
  }
  return ok_status();
}

std::function<void()> BrokerCore::forget_ids_on_failure(Queue& queue, const std::set<std::string>& ids,
                                                        int64_t now) {
  return [this, queue_id = queue.id(), ids, now] {
    auto found = queues_.find(queue_id);
    if (found == queues_.end()) return;
    for (const std::string& id : ids) found->second->forget_id(id, now);
  };
}

void BrokerCore::do_publish(const std::string& vhost, const std::string& name,
                            std::vector<PublishRequest>& requests, Callback<PublishOutcome> done) {
  auto found = require_queue(vhost, name);
  if (!found) return done(std::move(found).error());
  Queue& queue = **found;
  if (requests.empty()) {
    return done(Error(ErrorCode::kInvalidArgument, "the publish request holds no message",
                      "send {\"body\": ...} or {\"messages\": [...]} with at least one message"));
  }
  const int64_t now = clock_->wall_ms();
  PublishOutcome outcome;
  outcome.durability = options_.sync_mode == SyncMode::kAlways ? Durability::kFsync : Durability::kInterval;
  std::vector<size_t> stored;
  std::set<std::string> ids_in_batch;
  uint64_t stored_bytes = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    PublishRequest& request = requests[i];
    if (request.body.size() > options_.max_message_bytes) {
      return done(Error(ErrorCode::kMessageTooLarge,
                        fmt::format("message {} for queue \"{}\" has a {}-byte body, over the "
                                    "limit of {} bytes set by limits.max_message_bytes",
                                    i, name, request.body.size(), options_.max_message_bytes),
                        "split the payload or store it elsewhere and send a reference; or "
                        "raise limits.max_message_bytes"));
    }
    if (request.priority > kMaxPriority) {
      return done(
          Error(ErrorCode::kInvalidArgument,
                fmt::format("message {} has priority {}, outside 0..{}", i, request.priority, kMaxPriority),
                "use a priority from 0 (lowest) to 9 (highest)"));
    }
    if (request.id.size() > kMaxMessageIdBytes) {
      return done(Error(
          ErrorCode::kInvalidArgument,
          fmt::format("message {} has a {}-byte id, over {} bytes", i, request.id.size(), kMaxMessageIdBytes),
          "use a shorter id (a UUID fits)"));
    }
    if (request.id.empty()) request.id = new_message_id();
    const bool dedup = queue.settings().dedup_window_seconds > 0;
    const bool duplicate =
        dedup && (ids_in_batch.contains(request.id) || queue.is_duplicate(request.id, now));
    outcome.messages.push_back(PublishedMessage{request.id, duplicate});
    if (duplicate) continue;
    if (dedup) ids_in_batch.insert(request.id);
    stored.push_back(i);
    stored_bytes += request.body.size();
  }
  if (stored.empty()) return done(std::move(outcome));
  if (auto refusal = growth_refusal()) return done(std::move(*refusal));
  std::vector<PublishRequest> admitted;
  admitted.reserve(stored.size());
  for (size_t index : stored) admitted.push_back(std::move(requests[index]));
  if (publish_filter_ != nullptr && publish_filter_->filters(vhost, name)) {
    return filter_publish(vhost, name, std::move(admitted), std::move(ids_in_batch), std::move(outcome),
                          std::move(done));
  }
  std::vector<PublishGroup> groups;
  groups.push_back(PublishGroup{&queue, std::move(admitted)});
  commit_publish(CommitPlan{}, groups, queue, ids_in_batch, std::move(outcome), std::move(done));
}

void BrokerCore::commit_publish(CommitPlan plan, std::vector<PublishGroup>& groups, Queue& dedup_queue,
                                const std::set<std::string>& ids, PublishOutcome outcome,
                                Callback<PublishOutcome> done) {
  const int64_t now = clock_->wall_ms();
  std::vector<std::pair<uint64_t, size_t>> published_per_queue;
  for (PublishGroup& group : groups) {
    uint64_t bytes = 0;
    for (const PublishRequest& request : group.messages) bytes += request.body.size();
    auto room = plan_room(*group.queue, group.messages.size(), bytes, plan);
    if (!room) {
      undo(plan);
      return done(std::move(room).error());
    }
    for (PublishRequest& request : group.messages) {
      MessageAppendedRecord record = message_record(*group.queue, request, now);
      record.body = std::move(request.body);
      const auto body_bytes = static_cast<uint32_t>(record.body.size());
      plan_append(plan, *group.queue, std::move(record), body_bytes);
    }
    published_per_queue.emplace_back(group.queue->id(), group.messages.size());
  }
  // Remembered now, not at commit, so that a duplicate arriving meanwhile is caught too.
  for (const std::string& id : ids) dedup_queue.remember_id(id, now);
  if (!ids.empty()) plan.on_failed.push_back(forget_ids_on_failure(dedup_queue, ids, now));
  plan.on_durable.push_back([this, published_per_queue] {
    for (const auto& [queue_id, count] : published_per_queue) {
      auto target = queues_.find(queue_id);
      if (target != queues_.end()) target->second->publish_rate().add(count, clock_->monotonic_ms());
    }
  });
  auto status = submit(std::move(plan), [done, outcome = std::move(outcome)](Status committed) mutable {
    if (!committed) return done(std::move(committed).error());
    done(std::move(outcome));
  });
  if (!status) done(std::move(status).error());
}

}  // namespace ballast::broker

// BrokerCore: delivery — receive with leases and long polls, ack, nack, extend, peek,
// dead-lettering, lease expiry, TTL and delays (the tick).
#include <algorithm>
#include <charconv>
#include <limits>

#include "broker/broker_core.h"
#include "util/log.h"

namespace ballast::broker {

namespace {

constexpr uint32_t kMaxVisibilitySeconds = 12 * 3600;
constexpr size_t kMaxReceive = 1000;

Error receipt_error(const std::string& receipt, const Queue& queue, std::string_view why) {
  return Error(ErrorCode::kReceiptInvalid,
               fmt::format("receipt \"{}\" for queue \"{}\" (vhost \"{}\") {}", receipt, queue.name(),
                           queue.vhost(), why),
               "receive the message again and use its new receipt; extend a lease with /extend "
               "before its visibility timeout runs out");
}

void add_death_headers(MessageProperties& properties, const Queue& source, std::string_view reason,
                       int64_t now_ms) {
  uint32_t count = 0;
  std::erase_if(properties.headers, [&](const auto& header) {
    if (header.first == "x-death-count") {
      std::from_chars(header.second.data(), header.second.data() + header.second.size(), count);
    }
    return header.first.starts_with("x-death-");
  });
  properties.headers.emplace_back("x-death-reason", std::string(reason));
  properties.headers.emplace_back("x-death-queue", source.name());
  properties.headers.emplace_back("x-death-time", std::to_string(now_ms));
  properties.headers.emplace_back("x-death-count", std::to_string(count + 1));
  properties.headers.emplace_back("x-death-exchange", properties.amqp_exchange);
  properties.headers.emplace_back("x-death-routing-key", properties.amqp_routing_key);
}

// `keys` with every repeat after its first occurrence removed, in order.
std::vector<uint64_t> without_repeats(std::vector<uint64_t> keys) {
  std::vector<uint64_t> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()) return keys;
  std::set<uint64_t> seen;
  std::erase_if(keys, [&](uint64_t key) { return !seen.insert(key).second; });
  return keys;
}

}  // namespace

MessageAppendedRecord reissued_record(MessageAppendedRecord record, const MessageProperties& properties) {
  record.delivery_count = 0;
  record.expires_at_ms = 0;
  record.deliver_at_ms = 0;
  record.flags = 0;
  record.properties = encode_properties(properties);
  return record;
}

std::string BrokerCore::make_receipt(const LeaseRef& lease) const {
  return fmt::format("{:x}-{:x}-{:x}-{:x}", instance_tag_, lease.queue_id, lease.key, lease.nonce);
}

std::optional<LeaseRef> BrokerCore::parse_receipt(const std::string& receipt) const {
  uint64_t parts[4] = {};
  const char* cursor = receipt.data();
  const char* end = receipt.data() + receipt.size();
  for (int i = 0; i < 4; ++i) {
    auto [next, error] = std::from_chars(cursor, end, parts[i], 16);
    if (error != std::errc()) return std::nullopt;
    cursor = next;
    if (i < 3) {
      if (cursor == end || *cursor != '-') return std::nullopt;
      ++cursor;
    }
  }
  if (cursor != end || parts[0] != instance_tag_) return std::nullopt;
  return LeaseRef{parts[1], parts[2], parts[3]};
}

Result<MessageAppendedRecord> BrokerCore::read_message(const MessageEntry& entry) {
  if (auto hot = hot_messages_.take(entry.key)) return std::move(*hot);
  auto payload = journal_->read({entry.segment_id, entry.offset, entry.record_bytes});
  if (!payload) return std::move(payload).error();
  if (entry.flags & kEntryMoved) {
    auto moved = decode_message_moved(*payload);
    if (!moved) return std::move(moved).error();
    return std::move(moved->message);
  }
  return decode_message_appended(*payload);
}

std::optional<DeliveredMessage> BrokerCore::load_message(const Queue& queue, const MessageEntry& entry) {
  auto record = read_message(entry);
  Result<MessageProperties> properties =
      record ? decode_properties(record->properties) : Result<MessageProperties>(record.error());
  if (!record || !properties) {
    const Error& error = record ? properties.error() : record.error();
    log::limited_event(
        log::Level::kError, "broker.message_unreadable",
        {log::kv("code", error.code_name()), log::kv("vhost", queue.vhost()), log::kv("queue", queue.name()),
         log::kv("key", entry.key), log::kv("message", error.message()), log::kv("fix", error.fix())});
    damaged_queues_.note(queue.vhost(), queue.name(), error.code(), entry.key, error.message());
    return std::nullopt;
  }
  DeliveredMessage message;
  message.id = std::move(record->message_id);
  message.body = std::move(record->body);
  message.properties = std::move(*properties);
  message.priority = entry.priority;
  message.published_at_ms = record->published_at_ms;
  if (entry.expires_at_ms != 0) message.expires_at_ms = entry.expires_at_ms;
  message.delivery_count = entry.delivery_count;
  message.redelivered = entry.delivery_count > 0 || (entry.flags & kEntryMaybeDelivered) != 0;
  return message;
}

std::vector<DeliveredMessage> BrokerCore::take_ready(Queue& queue, const ReceiveRequest& request) {
  const int64_t now_wall = clock_->wall_ms();
  const int64_t now_monotonic = clock_->monotonic_ms();
  const uint32_t visibility =
      request.visibility_timeout_seconds.value_or(queue.settings().default_visibility_timeout_seconds);
  std::vector<DeliveredMessage> delivered;
  CommitPlan dead_letters;
  while (delivered.size() < request.max_messages) {
    const auto key = queue.pop_ready();
    if (!key) break;
    MessageEntry& entry = *queue.find(*key);
    if (entry.expires_at_ms != 0 && entry.expires_at_ms <= now_wall) {
      plan_dead_letter(dead_letters, queue, *key, "expired");
      continue;
    }
    const auto& limit = queue.settings().delivery_limit;
    if (limit && entry.delivery_count >= *limit) {
      plan_dead_letter(dead_letters, queue, *key, "delivery_limit");
      continue;
    }
    auto message = load_message(queue, entry);
    if (!message) {
      plan_settle(dead_letters, queue, *key, SettleReason::kDropped);
      continue;
    }
    ++entry.delivery_count;
    const uint64_t nonce = next_nonce_++;
    const int64_t lease_deadline =
        request.hold_until_settled ? kNeverExpires : now_monotonic + static_cast<int64_t>(visibility) * 1000;
    queue.lease(*key, Lease{lease_deadline, nonce});
    message->delivery_count = entry.delivery_count;
    message->lease = LeaseRef{queue.id(), *key, nonce};
    if (request.receipt_strings) message->receipt = make_receipt(message->lease);
    delivered.push_back(std::move(*message));
  }
  submit_in_background(std::move(dead_letters), "dead-lettering on delivery");
  if (!delivered.empty()) queue.deliver_rate().add(delivered.size(), now_monotonic);
  return delivered;
}

void BrokerCore::do_receive(const std::string& vhost, const std::string& name, const ReceiveRequest& request,
                            Callback<std::vector<DeliveredMessage>> done) {
  auto found = require_queue(vhost, name);
  if (!found) return done(std::move(found).error());
  if (request.max_messages == 0 || request.max_messages > kMaxReceive) {
    return done(Error(ErrorCode::kInvalidArgument,
                      fmt::format("max = {} is outside 1..{}", request.max_messages, kMaxReceive),
                      fmt::format("ask for 1 to {} messages", kMaxReceive)));
  }
  if (request.visibility_timeout_seconds && *request.visibility_timeout_seconds > kMaxVisibilitySeconds) {
    return done(Error(ErrorCode::kInvalidArgument,
                      fmt::format("visibility_timeout_seconds = {} is over {}",
                                  *request.visibility_timeout_seconds, kMaxVisibilitySeconds),
                      "use at most 12 hours and extend the lease while working"));
  }
  Queue& queue = **found;
  auto delivered = take_ready(queue, request);
  if (!delivered.empty() || request.wait_ms == 0) return done(std::move(delivered));
  waiters_[queue.id()].push_back(
      Waiter{request, clock_->monotonic_ms() + static_cast<int64_t>(request.wait_ms), std::move(done)});
}

void BrokerCore::serve_waiters(Queue& queue) {
  auto found = waiters_.find(queue.id());
  if (found == waiters_.end()) return;
  auto& waiting = found->second;
  while (!waiting.empty() && queue.ready_count() > 0) {
    Waiter waiter = std::move(waiting.front());
    waiting.pop_front();
    auto delivered = take_ready(queue, waiter.request);
    if (delivered.empty()) {
      waiting.push_front(std::move(waiter));
      break;
    }
    waiter.done(std::move(delivered));
  }
  if (waiting.empty()) waiters_.erase(found);
}

void BrokerCore::do_cancel_receive(const std::string& vhost, const std::string& name, uint64_t waiter_id) {
  auto queue_id = queue_ids_.find({vhost, name});
  if (queue_id == queue_ids_.end()) return;
  auto found = waiters_.find(queue_id->second);
  if (found == waiters_.end()) return;
  auto& waiting = found->second;
  auto waiter = std::find_if(waiting.begin(), waiting.end(),
                             [&](const Waiter& w) { return w.request.waiter_id == waiter_id; });
  if (waiter == waiting.end()) return;
  auto done = std::move(waiter->done);
  waiting.erase(waiter);
  if (waiting.empty()) waiters_.erase(found);
  done(std::vector<DeliveredMessage>{});
}

void BrokerCore::expire_waiters(int64_t now_monotonic_ms) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto& waiting = it->second;
    for (auto waiter = waiting.begin(); waiter != waiting.end();) {
      if (waiter->deadline_monotonic_ms > now_monotonic_ms) {
        ++waiter;
        continue;
      }
      auto done = std::move(waiter->done);
      waiter = waiting.erase(waiter);
      done(std::vector<DeliveredMessage>{});
    }
    it = waiting.empty() ? waiters_.erase(it) : std::next(it);
  }
}

Result<std::vector<uint64_t>> BrokerCore::validate_receipts(Queue& queue, const LeaseList& list) {
  const size_t count = list.receipts.empty() ? list.leases.size() : list.receipts.size();
  if (count == 0) {
    return Error(ErrorCode::kInvalidArgument, "the request lists no receipt",
                 "send {\"receipts\": [\"...\"]} with the receipts from /receive");
  }
  const auto receipt_text = [&](size_t i) {
    return list.receipts.empty() ? make_receipt(list.leases[i]) : list.receipts[i];
  };
  std::vector<uint64_t> keys;
  keys.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const auto parsed =
        list.receipts.empty() ? std::optional(list.leases[i]) : parse_receipt(list.receipts[i]);
    if (!parsed || parsed->queue_id != queue.id()) {
      return receipt_error(receipt_text(i), queue,
                           "is not a receipt of this queue in this broker run (receipts do not "
                           "survive a restart: the message is redelivered instead)");
    }
    const MessageEntry* entry = queue.find(parsed->key);
    const Lease* lease = queue.find_lease(parsed->key);
    if (entry == nullptr || entry->state != EntryState::kLeased || lease == nullptr ||
        lease->nonce != parsed->nonce) {
      return receipt_error(receipt_text(i), queue,
                           "has expired or was already used: its lease ended and the message "
                           "went back to the queue, or it was acknowledged");
    }
    keys.push_back(parsed->key);
  }
  return without_repeats(std::move(keys));
}

void BrokerCore::submit_settlement(CommitPlan plan, uint64_t count, Callback<SettleOutcome> done) {
  auto answer = [done, count](Status committed) {
    if (!committed) return done(std::move(committed).error());
    done(SettleOutcome{count});
  };
  auto status = submit(std::move(plan), answer);
  if (!status) answer(std::move(status));
}

Result<std::pair<Queue*, std::vector<uint64_t>>> BrokerCore::leased_messages(const std::string& vhost,
                                                                             const std::string& name,
                                                                             const LeaseList& list) {
  auto found = require_queue(vhost, name);
  if (!found) return std::move(found).error();
  auto keys = validate_receipts(**found, list);
  if (!keys) return std::move(keys).error();
  if (auto refusal = storage_refusal()) return std::move(*refusal);
  return std::pair{*found, std::move(*keys)};
}

void BrokerCore::do_ack(const std::string& vhost, const std::string& name, const LeaseList& list,
                        Callback<SettleOutcome> done) {
  auto settling = leased_messages(vhost, name, list);
  if (!settling) return done(std::move(settling).error());
  auto& [queue, keys] = *settling;
  CommitPlan plan;
  for (uint64_t key : keys) plan_settle(plan, *queue, key, SettleReason::kAcked);
  const uint64_t queue_id = queue->id();
  const uint64_t count = keys.size();
  plan.on_durable.push_back([this, queue_id, count] {
    auto target = queues_.find(queue_id);
    if (target != queues_.end()) target->second->ack_rate().add(count, clock_->monotonic_ms());
  });
  submit_settlement(std::move(plan), count, std::move(done));
}

void BrokerCore::do_nack(const std::string& vhost, const std::string& name, const LeaseList& list,
                         bool requeue, Callback<SettleOutcome> done) {
  if (!requeue) return do_dead_letter(vhost, name, list, "rejected", std::move(done));
  auto settling = leased_messages(vhost, name, list);
  if (!settling) return done(std::move(settling).error());
  auto& [queue, keys] = *settling;
  CommitPlan plan;
  for (uint64_t key : keys) plan_return(plan, *queue, key);
  submit_settlement(std::move(plan), keys.size(), std::move(done));
  serve_waiters(*queue);
}

void BrokerCore::do_dead_letter(const std::string& vhost, const std::string& name, const LeaseList& list,
                                std::string_view reason, Callback<SettleOutcome> done) {
  auto settling = leased_messages(vhost, name, list);
  if (!settling) return done(std::move(settling).error());
  auto& [queue, keys] = *settling;
  CommitPlan plan;
  for (uint64_t key : keys) plan_dead_letter(plan, *queue, key, reason);
  submit_settlement(std::move(plan), keys.size(), std::move(done));
}

void BrokerCore::do_extend(const std::string& vhost, const std::string& name, const LeaseList& list,
                           uint32_t seconds, Callback<SettleOutcome> done) {
  auto found = require_queue(vhost, name);
  if (!found) return done(std::move(found).error());
  Queue& queue = **found;
  if (seconds > kMaxVisibilitySeconds) {
    return done(
        Error(ErrorCode::kInvalidArgument,
              fmt::format("visibility_timeout_seconds = {} is over {}", seconds, kMaxVisibilitySeconds),
              "extend by at most 12 hours at a time"));
  }
  auto keys = validate_receipts(queue, list);
  if (!keys) return done(std::move(keys).error());
  const int64_t deadline = clock_->monotonic_ms() + static_cast<int64_t>(seconds) * 1000;
  for (uint64_t key : *keys) queue.extend_lease(key, deadline);
  done(SettleOutcome{keys->size()});
}

void BrokerCore::do_peek(const std::string& vhost, const std::string& name, uint32_t max,
                         Callback<std::vector<DeliveredMessage>> done) {
  auto found = require_queue(vhost, name);
  if (!found) return done(std::move(found).error());
  Queue& queue = **found;
  std::vector<DeliveredMessage> messages;
  for (uint64_t key : queue.peek_ready(std::min<size_t>(max, kMaxReceive))) {
    if (auto message = load_message(queue, *queue.find(key))) messages.push_back(std::move(*message));
  }
  done(std::move(messages));
}

void BrokerCore::plan_return(CommitPlan& plan, Queue& queue, uint64_t key) {
  const MessageEntry* entry = queue.find(key);
  if (entry == nullptr) return;
  queue.requeue(key);
  plan.add({static_cast<uint16_t>(RecordType::kMessageReturned), false,
            encode(MessageReturnedRecord{queue.id(), key, entry->delivery_count})});
}

void BrokerCore::plan_dead_letter(CommitPlan& plan, Queue& queue, uint64_t key, std::string_view reason) {
  const MessageEntry* entry = queue.find(key);
  BALLAST_CHECK(entry != nullptr, "dead-letter of unknown key {}", key);
  const SettleReason settle_reason =
      reason == "expired" ? SettleReason::kExpired : SettleReason::kDeadLettered;
  if (queue.settings().dead_letter_drop) {
    log::limited_event(log::Level::kInfo, "broker.message_dropped",
                       {log::kv("queue", queue.name()), log::kv("reason", reason),
                        log::kv("why", "dead_letter_drop = true")});
    plan_settle(plan, queue, key, SettleReason::kDropped);
    return;
  }
  auto record = read_message(*entry);
  Result<MessageProperties> properties =
      record ? decode_properties(record->properties) : Result<MessageProperties>(record.error());
  if (!record || !properties) {
    const Error& error = record ? properties.error() : record.error();
    log::limited_event(
        log::Level::kError, "broker.message_unreadable",
        {log::kv("code", error.code_name()), log::kv("vhost", queue.vhost()), log::kv("queue", queue.name()),
         log::kv("key", key), log::kv("message", error.message())});
    damaged_queues_.note(queue.vhost(), queue.name(), error.code(), key, error.message());
    plan_settle(plan, queue, key, SettleReason::kDropped);
    return;
  }
  add_death_headers(*properties, queue, reason, clock_->wall_ms());
  // Delivered from the dead-letter exchange with the key it was routed by, as RabbitMQ does.
  const DeadLetterTarget target = dead_letter_target(queue.settings());
  if (!target.exchange.empty()) {
    properties->amqp_exchange = target.exchange;
    if (!queue.settings().dead_letter_queue.empty())
      properties->amqp_routing_key = queue.settings().dead_letter_queue;
  }
  const std::vector<Queue*> targets = resolve_dead_letter_targets(queue, *properties, plan);
  const MessageAppendedRecord moved = reissued_record(std::move(*record), *properties);
  const auto body_bytes = static_cast<uint32_t>(moved.body.size());
  plan_settle(plan, queue, key, settle_reason);
  for (Queue* target : targets) plan_append(plan, *target, moved, body_bytes);
}

int64_t BrokerCore::reserve_retry_ms() const {
  const int64_t self_check_ms = options_.self_check_interval_ms;
  return self_check_ms > 0 ? std::min(kReserveRetryMs, self_check_ms) : kReserveRetryMs;
}

void BrokerCore::restore_reserve_when_due(int64_t now_monotonic_ms) {
  if (!journal_->reserve_in_use()) {
    next_reserve_attempt_ms_ = now_monotonic_ms + reserve_retry_ms();
    return;
  }
  if (now_monotonic_ms < next_reserve_attempt_ms_) return;
  next_reserve_attempt_ms_ = now_monotonic_ms + reserve_retry_ms();
  journal_->restore_reserve().ignore("still full: the next tick tries again and health() reports it");
}

void BrokerCore::tick() {
  if (stopping_.load()) return;
  const int64_t now_wall = clock_->wall_ms();
  const int64_t now_monotonic = clock_->monotonic_ms();
  for (auto& [queue_id, queue] : queues_) {
    if (deleting_queues_.contains(queue_id)) continue;
    bool more_ready = queue->release_due(now_wall) > 0;
    CommitPlan returns;
    for (uint64_t key : queue->expired_leases(now_monotonic)) plan_return(returns, *queue, key);
    more_ready = more_ready || !returns.empty();
    submit_in_background(std::move(returns), "returning messages whose lease expired");
    CommitPlan expired;
    for (uint64_t key : queue->expired_messages(now_wall)) plan_dead_letter(expired, *queue, key, "expired");
    submit_in_background(std::move(expired), "dead-lettering expired messages");
    if (more_ready) serve_waiters(*queue);
  }
  expire_waiters(now_monotonic);
  release_held();
  restore_reserve_when_due(now_monotonic);
  limits_.observe(*journal_);
  if (journal_->awaiting_resume()) {
    // Posted, so that it runs after every failed commit's undo the writer posted before its
    // repair: the sequence numbers of failed commits are used again once it resumes.
    loop_.post([this] {
      if (journal_->resume_after_repair()) refresh_health();
    });
  }
  refresh_health();
  if (now_monotonic >= next_checkpoint_ms_) {
    auto report = [](Status status) {
      if (status) return;
      log::event(log::Level::kWarn, "broker.compaction_failed",
                 {log::kv("code", status.error().code_name()), log::kv("message", status.error().message())});
    };
    compact_oldest_segment(report);
    write_checkpoint(/*clean=*/false);
    next_checkpoint_ms_ = now_monotonic + options_.checkpoint_interval_ms;
  }
}

}  // namespace ballast::broker

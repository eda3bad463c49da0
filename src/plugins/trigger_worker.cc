#include "plugins/trigger_worker.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/log.h"

namespace ballast::plugins {

namespace {

constexpr std::string_view kVhost = "/";
// How often the worker looks whether the plug-in is up and its queue exists.
constexpr uint32_t kTickMs = 200;
// The long poll on the work queue.
constexpr uint32_t kPollWaitMs = 2000;
// Names a worker's long poll for cancel_receive(). A waiter id must be unique only among the
// waiters of one queue, and a work queue has one worker: one id far from the AMQP front end's
// (which count up from 1) serves every worker, with no shared counter.
constexpr uint64_t kWorkQueueWaiterId = 1ull << 62;

// The stored message's vhost and queue, taken out of the work item's headers.
TriggerWork work_from(broker::DeliveredMessage message) {
  TriggerWork work;
  work.vhost = std::string(kVhost);
  auto& headers = message.properties.headers;
  std::erase_if(headers, [&](const auto& header) {
    if (header.first == broker::kTriggerVhostHeader) {
      work.vhost = header.second;
    } else if (header.first == broker::kTriggerQueueHeader) {
      work.queue = header.second;
    } else {
      return false;
    }
    return true;
  });
  work.attempt = std::max<uint32_t>(1, message.delivery_count);
  work.message = std::move(message);
  return work;
}

}  // namespace

TriggerWorker::TriggerWorker(boost::asio::io_context& io, PluginSupervisor& supervisor,
                             broker::Broker& broker, std::shared_ptr<PostGate> gate)
    : io_(io),
      supervisor_(supervisor),
      broker_(broker),
      gate_(std::move(gate)),
      name_(supervisor.config().name),
      queue_name_(fmt::format("{}{}", broker::kTriggerQueuePrefix, name_)),
      waiter_id_(kWorkQueueWaiterId),
      tick_timer_(io) {}

TriggerWorker::~TriggerWorker() = default;

TriggerCounters TriggerWorker::counters() const {
  return TriggerCounters{done_.load(), retries_.load(), dead_lettered_.load(), in_hand_.load()};
}

void TriggerWorker::start() {
  schedule_tick();
  pump();
}

void TriggerWorker::stop() {
  stopping_ = true;
  tick_timer_.cancel();
  if (polling_) broker_.cancel_receive(std::string(kVhost), queue_name_, waiter_id_);
  std::vector<uint64_t> idle;
  for (auto& [key, item] : items_) {
    if (!item.calling) idle.push_back(key);
  }
  for (uint64_t key : idle) give_back(key);
}

void TriggerWorker::schedule_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(kTickMs));
  tick_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || stopping_) return;
    pump();
    schedule_tick();
  });
}

void TriggerWorker::pump() {
  if (stopping_ || !supervisor_.ready()) return;
  std::vector<uint64_t> waiting;
  for (auto& [key, item] : items_) {
    if (!item.calling && !item.retry_timer) waiting.push_back(key);
  }
  for (uint64_t key : waiting) call(key);
  take_more();
}

void TriggerWorker::take_more() {
  const uint32_t concurrency = supervisor_.config().retry.concurrency;
  if (polling_ || items_.size() >= concurrency) return;
  broker::ReceiveRequest request;
  request.max_messages = concurrency - static_cast<uint32_t>(items_.size());
  request.wait_ms = kPollWaitMs;
  request.hold_until_settled = true;
  request.receipt_strings = false;
  request.waiter_id = waiter_id_;
  polling_ = true;
  broker_.receive(std::string(kVhost), queue_name_, request,
                  [this, gate = gate_](Result<std::vector<broker::DeliveredMessage>> taken) mutable {
                    // Dropped once the host has stopped: the leases end with the broker.
                    gate->post([this, taken = std::move(taken)]() mutable { on_taken(std::move(taken)); });
                  });
}

void TriggerWorker::on_taken(Result<std::vector<broker::DeliveredMessage>> taken) {
  polling_ = false;
  // No work queue yet (nothing stored in an attached queue so far): the next tick asks again.
  if (!taken) {
    if (taken.error().code() != ErrorCode::kQueueNotFound && !stopping_) {
      log::limited_event(
          log::Level::kWarn, "plugin.trigger_take_failed",
          {log::kv("plugin", name_), log::kv("queue", queue_name_),
           log::kv("code", taken.error().code_name()), log::kv("message", taken.error().message())},
          1);
    }
    return;
  }
  for (broker::DeliveredMessage& message : *taken) {
    const broker::LeaseRef lease = message.lease;
    Item item{lease, work_from(std::move(message)), nullptr, false};
    items_.emplace(lease.key, std::move(item));
  }
  in_hand_.store(items_.size());
  if (stopping_) {
    std::vector<uint64_t> keys;
    for (const auto& [key, item] : items_) {
      if (!item.calling) keys.push_back(key);
    }
    for (uint64_t key : keys) give_back(key);
    return;
  }
  // More at once when the queue had some; the tick covers the quiet case.
  pump();
}

void TriggerWorker::call(uint64_t key) {
  Item& item = items_.at(key);
  item.calling = true;
  supervisor_.trigger(item.work,
                      [this, key](TriggerOutcome outcome) { on_outcome(key, std::move(outcome)); });
}

void TriggerWorker::on_outcome(uint64_t key, TriggerOutcome outcome) {
  auto found = items_.find(key);
  if (found == items_.end()) return;
  found->second.calling = false;
  if (stopping_) return give_back(key);
  const TriggerWork& work = found->second.work;
  const uint32_t max_attempts = supervisor_.config().retry.max_attempts;
  switch (outcome.result) {
    case TriggerResult::kDone:
      return settle_done(key);
    case TriggerResult::kFailed:
      return dead_letter(key, ErrorCode::kPluginRejected,
                         fmt::format("trigger plug-in \"{}\" failed on attempt {}: {}", name_, work.attempt,
                                     outcome.reason));
    case TriggerResult::kRetry:
      if (work.attempt >= max_attempts) {
        return dead_letter(key, ErrorCode::kPluginUnavailable,
                           fmt::format("trigger plug-in \"{}\" gave up after {} attempts (max_attempts = "
                                       "{}); the last: {}",
                                       name_, work.attempt, max_attempts, outcome.reason));
      }
      return retry_later(key, outcome.reason);
  }
}

void TriggerWorker::retry_later(uint64_t key, const std::string& reason) {
  Item& item = items_.at(key);
  const TriggerRetry& retry = supervisor_.config().retry;
  uint64_t delay_ms = retry.initial_ms;
  for (uint32_t i = 1; i < item.work.attempt && delay_ms < retry.max_ms; ++i) delay_ms *= 2;
  delay_ms = std::min<uint64_t>(delay_ms, retry.max_ms);
  retries_.fetch_add(1);
  log::limited_event(
      log::Level::kWarn, "plugin.trigger_retry",
      {log::kv("plugin", name_), log::kv("queue", item.work.queue),
       log::kv("message_id", item.work.message.id), log::kv("attempt", item.work.attempt),
       log::kv("max_attempts", retry.max_attempts), log::kv("delay_ms", delay_ms), log::kv("reason", reason)},
      50);
  item.retry_timer = std::make_unique<boost::asio::steady_timer>(io_);
  item.retry_timer->expires_after(std::chrono::milliseconds(delay_ms));
  item.retry_timer->async_wait([this, key](const boost::system::error_code& error) {
    if (error) return;  // cancelled: stop() gives it back
    give_back(key);
  });
}

void TriggerWorker::settle_done(uint64_t key) {
  const Item& item = items_.at(key);
  done_.fetch_add(1);
  log::limited_event(log::Level::kInfo, "plugin.trigger_done",
                     {log::kv("plugin", name_), log::kv("queue", item.work.queue),
                      log::kv("message_id", item.work.message.id), log::kv("attempt", item.work.attempt)},
                     50);
  const broker::LeaseRef lease = release(key);
  broker_.ack_leases(std::string(kVhost), queue_name_, {lease}, settled("ack", lease));
}

void TriggerWorker::dead_letter(uint64_t key, ErrorCode code, std::string reason) {
  const Item& item = items_.at(key);
  dead_lettered_.fetch_add(1);
  log::limited_event(
      log::Level::kError, "plugin.trigger_dead_lettered",
      {log::kv("plugin", name_), log::kv("queue", item.work.queue),
       log::kv("message_id", item.work.message.id), log::kv("attempt", item.work.attempt),
       log::kv("code", error_code_name(code)), log::kv("reason", reason),
       log::kv("fix",
               fmt::format("the work item is in queue {} with x-death-reason; fix the cause and publish it "
                           "to the queue again to run the trigger again",
                           broker::kDeadLetterQueueName))},
      50);
  const broker::LeaseRef lease = release(key);
  broker_.dead_letter_leases(std::string(kVhost), queue_name_, {lease}, std::move(reason),
                             settled("dead-letter", lease));
}

void TriggerWorker::give_back(uint64_t key) {
  const broker::LeaseRef lease = release(key);
  broker_.nack_leases(std::string(kVhost), queue_name_, {lease}, true, settled("return", lease));
}

broker::LeaseRef TriggerWorker::release(uint64_t key) {
  auto found = items_.find(key);
  BALLAST_CHECK(found != items_.end(), "trigger {}: no work item {}", name_, key);
  if (found->second.retry_timer) found->second.retry_timer->cancel();
  const broker::LeaseRef lease = found->second.lease;
  items_.erase(found);
  in_hand_.store(items_.size());
  if (!stopping_) boost::asio::post(io_, [this] { pump(); });
  return lease;
}

broker::Callback<broker::SettleOutcome> TriggerWorker::settled(std::string what, broker::LeaseRef lease) {
  // Runs on the broker thread and touches only copies: a failed settlement leaves the work item
  // leased until the broker restarts, when it is taken again (at-least-once).
  return [name = name_, queue = queue_name_, what = std::move(what),
          lease](Result<broker::SettleOutcome> result) {
    if (result || result.error().code() == ErrorCode::kShuttingDown) return;
    log::limited_event(
        log::Level::kWarn, "plugin.trigger_settle_failed",
        {log::kv("plugin", name), log::kv("queue", queue), log::kv("action", what), log::kv("key", lease.key),
         log::kv("code", result.error().code_name()), log::kv("message", result.error().message()),
         log::kv("fix",
                 "the work item runs again after the broker restarts; see the storage "
                 "events for the cause")},
        10);
  };
}

}  // namespace ballast::plugins

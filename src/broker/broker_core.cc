#include "broker/broker_core.h"

#include <future>

#include "broker/names.h"
#include "storage/io_error.h"
#include "storage/posix_file_system.h"
#include "util/log.h"

namespace ballast::broker {

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(50);
constexpr size_t kPurgeRecordsPerCommit = 10000;

// The broker's own queues ("ballast.dead-letter", "ballast.held.<queue>", ...) are named under
// "ballast."; a client may use one that exists but not create one, as RabbitMQ keeps "amq.".
constexpr std::string_view kReservedQueuePrefix = "ballast.";

Status check_not_reserved(const std::string& vhost, const std::string& name) {
  if (!name.starts_with(kReservedQueuePrefix) || name == kDeadLetterQueueName) return ok_status();
  return Error(ErrorCode::kAccessRefused,
               fmt::format("queue name \"{}\" (vhost \"{}\") is reserved: names starting with \"{}\" "
                           "belong to the broker's own queues",
                           name, vhost, kReservedQueuePrefix),
               fmt::format("choose a queue name that does not start with \"{}\"", kReservedQueuePrefix));
}

storage::SyncPolicy sync_policy(SyncMode mode) {
  return mode == SyncMode::kInterval ? storage::SyncPolicy::kInterval : storage::SyncPolicy::kAlways;
}

}  // namespace

Result<std::unique_ptr<Broker>> Broker::open(const BrokerOptions& options) {
  std::unique_ptr<storage::FileSystem> owned;
  if (options.file_system == nullptr) owned = std::make_unique<storage::PosixFileSystem>();
  auto core = std::make_unique<BrokerCore>(options, std::move(owned), std::make_unique<SystemClock>());
  auto status = core->open();
  if (!status) return std::move(status).error();
  return std::unique_ptr<Broker>(std::move(core));
}

BrokerCore::BrokerCore(const BrokerOptions& options, std::unique_ptr<storage::FileSystem> owned_file_system,
                       std::unique_ptr<Clock> clock)
    : options_(options),
      owned_file_system_(std::move(owned_file_system)),
      file_system_(options.file_system != nullptr ? options.file_system : owned_file_system_.get()),
      clock_(std::move(clock)),
      hot_messages_(options.read_cache_bytes),
      limits_(ResourceLimitOptions{options.max_disk_bytes, options.max_memory_bytes, options.data_dir,
                                   options.segment_bytes, options.checkpoint_interval_ms,
                                   options.read_cache_bytes},
              options.memory_probe),
      random_(std::random_device{}()) {
  instance_tag_ = random_() & 0xFFFFFFFFu;
}

BrokerCore::~BrokerCore() {
  stop();
}

Status BrokerCore::open() {
  storage::JournalOptions journal_options;
  journal_options.data_dir = options_.data_dir;
  journal_options.segment_bytes = options_.segment_bytes;
  journal_options.sync_policy = sync_policy(options_.sync_mode);
  journal_options.sync_interval_ms = options_.sync_interval_ms;
  journal_options.commit_window_us = options_.commit_window_us;
  journal_options.self_check_interval_ms = options_.self_check_interval_ms;
  journal_options.reserve_bytes = options_.reserve_bytes;
  journal_options.file_system = file_system_;
  journal_options.defect = options_.journal_defect;
  storage::RecoveryReport report;
  auto journal = storage::Journal::open(journal_options, *this, report);
  if (!journal) return std::move(journal).error();
  journal_ = std::move(*journal);
  after_recovery(report);
  return ok_status();
}

void BrokerCore::run() {
  running_ = true;
  journal_->start();
  next_checkpoint_ms_ = clock_->monotonic_ms() + options_.checkpoint_interval_ms;
  next_reserve_attempt_ms_ = clock_->monotonic_ms() + reserve_retry_ms();
  loop_.start(kTickInterval, [this] { tick(); });
  log::event(log::Level::kInfo, "broker.started",
             {log::kv("queues", queues_.size()), log::kv("data_dir", options_.data_dir)});
}

void BrokerCore::stop() {
  if (stopped_ || !journal_ || !running_) return;
  stopped_ = true;
  stopping_.store(true);
  std::promise<void> drained;
  const bool posted = loop_.post([this, &drained] {
    for (auto& [queue_id, waiters] : waiters_) {
      for (Waiter& waiter : waiters) waiter.done(std::vector<DeliveredMessage>{});
    }
    waiters_.clear();
    write_checkpoint(/*clean=*/true);
    drained.set_value();
  });
  if (posted) drained.get_future().wait();
  journal_->stop();
  loop_.stop();
  log::event(log::Level::kInfo, "broker.stopped", {});
}

Error BrokerCore::shutting_down_error() const {
  return Error(ErrorCode::kShuttingDown, "the broker is shutting down and takes no new work",
               "retry against the restarted broker");
}

void BrokerCore::create_queue(std::string vhost, std::string name, QueueSettings settings,
                              Callback<CreateQueueOutcome> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), settings = std::move(settings),
                 done]() mutable { do_create_queue(vhost, name, settings, std::move(done)); });
}

void BrokerCore::delete_queue(std::string vhost, std::string name, Callback<void> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), done]() mutable {
    do_delete_queue(vhost, name, std::move(done));
  });
}

void BrokerCore::purge_queue(std::string vhost, std::string name, Callback<SettleOutcome> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), done]() mutable {
    do_purge_queue(vhost, name, std::move(done));
  });
}

void BrokerCore::list_queues(std::string vhost, Callback<std::vector<QueueInfo>> done) {
  on_loop(done, [this, vhost = std::move(vhost), done] {
    std::vector<QueueInfo> infos;
    for (auto& [key, queue_id] : queue_ids_) {
      if (key.first == vhost) infos.push_back(describe(*queues_.at(queue_id)));
    }
    done(std::move(infos));
  });
}

void BrokerCore::queue_info(std::string vhost, std::string name, Callback<QueueInfo> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), done] {
    auto queue = require_queue(vhost, name);
    if (!queue) return done(std::move(queue).error());
    done(describe(**queue));
  });
}

void BrokerCore::publish(std::string vhost, std::string name, std::vector<PublishRequest> messages,
                         Callback<PublishOutcome> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), messages = std::move(messages),
                 done]() mutable { do_publish(vhost, name, messages, std::move(done)); });
}

void BrokerCore::receive(std::string vhost, std::string name, ReceiveRequest request,
                         Callback<std::vector<DeliveredMessage>> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), request, done]() mutable {
    do_receive(vhost, name, request, std::move(done));
  });
}

void BrokerCore::cancel_receive(std::string vhost, std::string name, uint64_t waiter_id) {
  loop_.post([this, vhost = std::move(vhost), name = std::move(name), waiter_id] {
    do_cancel_receive(vhost, name, waiter_id);
  });
}

void BrokerCore::ack(std::string vhost, std::string name, std::vector<std::string> receipts,
                     Callback<SettleOutcome> done) {
  on_loop(done,
          [this, vhost = std::move(vhost), name = std::move(name), list = LeaseList{std::move(receipts), {}},
           done]() mutable { do_ack(vhost, name, list, std::move(done)); });
}

void BrokerCore::ack_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases,
                            Callback<SettleOutcome> done) {
  on_loop(done,
          [this, vhost = std::move(vhost), name = std::move(name), list = LeaseList{{}, std::move(leases)},
           done]() mutable { do_ack(vhost, name, list, std::move(done)); });
}

void BrokerCore::nack(std::string vhost, std::string name, std::vector<std::string> receipts, bool requeue,
                      Callback<SettleOutcome> done) {
  on_loop(done,
          [this, vhost = std::move(vhost), name = std::move(name), list = LeaseList{std::move(receipts), {}},
           requeue, done]() mutable { do_nack(vhost, name, list, requeue, std::move(done)); });
}

void BrokerCore::nack_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases, bool requeue,
                             Callback<SettleOutcome> done) {
  on_loop(done,
          [this, vhost = std::move(vhost), name = std::move(name), list = LeaseList{{}, std::move(leases)},
           requeue, done]() mutable { do_nack(vhost, name, list, requeue, std::move(done)); });
}

void BrokerCore::dead_letter_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases,
                                    std::string reason, Callback<SettleOutcome> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name),
                 list = LeaseList{{}, std::move(leases)}, reason = std::move(reason),
                 done]() mutable { do_dead_letter(vhost, name, list, reason, std::move(done)); });
}

void BrokerCore::extend(std::string vhost, std::string name, std::vector<std::string> receipts,
                        uint32_t visibility_timeout_seconds, Callback<SettleOutcome> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name),
                 list = LeaseList{std::move(receipts), {}}, visibility_timeout_seconds, done]() mutable {
    do_extend(vhost, name, list, visibility_timeout_seconds, std::move(done));
  });
}

void BrokerCore::peek(std::string vhost, std::string name, uint32_t max_messages,
                      Callback<std::vector<DeliveredMessage>> done) {
  on_loop(done, [this, vhost = std::move(vhost), name = std::move(name), max_messages, done]() mutable {
    do_peek(vhost, name, max_messages, std::move(done));
  });
}

void BrokerCore::stats(Callback<BrokerStats> done) {
  on_loop(done, [this, done] {
    BrokerStats result;
    for (auto& [key, queue_id] : queue_ids_) {
      const QueueStats stats = describe(*queues_.at(queue_id)).stats;
      ++result.queues;
      result.totals.messages += stats.messages;
      result.totals.in_flight += stats.in_flight;
      result.totals.delayed += stats.delayed;
      result.totals.bytes += stats.bytes;
      result.totals.publish_rate += stats.publish_rate;
      result.totals.deliver_rate += stats.deliver_rate;
      result.totals.ack_rate += stats.ack_rate;
    }
    const storage::JournalStats journal = journal_->stats();
    result.journal_bytes = journal.bytes_on_disk;
    result.journal_segments = journal.segments;
    done(result);
  });
}

HealthReport BrokerCore::health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

void BrokerCore::refresh_health() {
  HealthReport report;
  report.degraded = recovery_problems_;
  damaged_queues_.retain([this](const std::string& vhost, const std::string& name) {
    return find_queue(vhost, name) != nullptr;
  });
  report.damaged_queues = damaged_queues_.list();
  if (auto error = growth_refusal()) {
    const char* component = is_broker_limit(error->code()) ? "limits" : "storage";
    report.degraded.push_back(DegradedPart{component, error->code(), error->describe()});
    report.publish_refusal = std::move(error);
  }
  std::lock_guard lock(health_mu_);
  health_ = std::move(report);
}

Queue* BrokerCore::find_queue(const std::string& vhost, const std::string& name) {
  auto found = queue_ids_.find({vhost, name});
  if (found == queue_ids_.end()) return nullptr;
  return queues_.at(found->second).get();
}

Result<Queue*> BrokerCore::require_queue(const std::string& vhost, const std::string& name) {
  if (Queue* queue = find_queue(vhost, name)) return queue;
  return Error(
      ErrorCode::kQueueNotFound, fmt::format("queue \"{}\" does not exist in vhost \"{}\"", name, vhost),
      fmt::format("create it first (PUT /api/v1/queues/{} or 'ballast queue create {}')", name, name));
}

Queue& BrokerCore::create_queue_now(const std::string& vhost, const std::string& name,
                                    const QueueSettings& settings, CommitPlan& plan) {
  const uint64_t queue_id = next_queue_id_++;
  auto queue = std::make_unique<Queue>(queue_id, vhost, name, settings);
  Queue& created = *queue;
  queues_[queue_id] = std::move(queue);
  queue_ids_[{vhost, name}] = queue_id;
  plan.add({static_cast<uint16_t>(RecordType::kQueueCreated), false,
            encode(QueueCreatedRecord{queue_id, vhost, name, settings})});
  plan.on_failed.push_back([this, queue_id, vhost, name] {
    queue_ids_.erase({vhost, name});
    queues_.erase(queue_id);
  });
  log::event(log::Level::kInfo, "broker.queue_created", {log::kv("vhost", vhost), log::kv("queue", name)});
  return created;
}

Queue& BrokerCore::queue_or_create(const std::string& vhost, const std::string& name, CommitPlan& plan) {
  if (Queue* existing = find_queue(vhost, name)) return *existing;
  return create_queue_now(vhost, name, QueueSettings{}, plan);
}

std::vector<Queue*> BrokerCore::resolve_dead_letter_targets(Queue& source,
                                                            const MessageProperties& properties,
                                                            CommitPlan& plan) {
  const QueueSettings& settings = source.settings();
  const DeadLetterTarget target = dead_letter_target(settings);
  // The default exchange: the routing key names the queue, created on first use.
  if (target.exchange.empty()) return {&queue_or_create(source.vhost(), target.routing_key, plan)};
  const std::string& routing_key =
      settings.dead_letter_queue.empty() ? properties.amqp_routing_key : settings.dead_letter_queue;
  RoutedMessage probe{target.exchange, routing_key, {}, {}};
  std::optional<Error> refused;
  std::vector<Queue*> targets = route_targets(source.vhost(), probe, refused);
  if (targets.empty()) {
    // Nothing is dropped silently (R3): what the dead-letter exchange cannot route goes to the
    // vhost's dead-letter queue, and the log says why.
    log::limited_event(log::Level::kWarn, "broker.dead_letter_unroutable",
                       {log::kv("queue", source.name()), log::kv("exchange", target.exchange),
                        log::kv("routing_key", routing_key),
                        log::kv("why", refused ? refused->message() : "no queue is bound for this key"),
                        log::kv("to", kDeadLetterQueueName)});
    targets.push_back(&queue_or_create(source.vhost(), std::string(kDeadLetterQueueName), plan));
  }
  return targets;
}

QueueInfo BrokerCore::describe(Queue& queue) {
  const int64_t now = clock_->monotonic_ms();
  QueueInfo info{queue.vhost(), queue.name(), queue.settings(), {}};
  info.stats.messages = queue.ready_count() + queue.pending_count();
  info.stats.in_flight = queue.leased_count();
  info.stats.delayed = queue.delayed_count();
  info.stats.bytes = queue.total_bytes();
  info.stats.publish_rate = queue.publish_rate().per_second(now);
  info.stats.deliver_rate = queue.deliver_rate().per_second(now);
  info.stats.ack_rate = queue.ack_rate().per_second(now);
  return info;
}

void BrokerCore::do_create_queue(const std::string& vhost, const std::string& name,
                                 const QueueSettings& settings, Callback<CreateQueueOutcome> done) {
  for (auto status :
       {validate_name("vhost", vhost), validate_name("queue", name), validate_settings(settings)}) {
    if (!status) return done(std::move(status).error());
  }
  if (Queue* existing = find_queue(vhost, name)) {
    const auto keys = differing_setting_keys(existing->settings(), settings);
    if (keys.empty()) return done(CreateQueueOutcome{false});
    return done(Error(ErrorCode::kQueueExistsDifferent,
                      fmt::format("queue \"{}\" (vhost \"{}\") already exists with different {}", name, vhost,
                                  fmt::join(keys, ", ")),
                      "declare it with its current settings (GET the queue to see them), or "
                      "delete it first"));
  }
  if (auto reserved = check_not_reserved(vhost, name); !reserved) return done(std::move(reserved).error());
  if (auto refusal = growth_refusal()) return done(std::move(*refusal));
  CommitPlan plan;
  create_queue_now(vhost, name, settings, plan);
  auto status = submit(std::move(plan), [done](Status committed) {
    if (!committed) return done(std::move(committed).error());
    done(CreateQueueOutcome{true});
  });
  if (!status) done(std::move(status).error());
}

void BrokerCore::do_delete_queue(const std::string& vhost, const std::string& name, Callback<void> done) {
  auto queue = require_queue(vhost, name);
  if (!queue) return done(std::move(queue).error());
  if (auto refusal = storage_refusal()) return done(std::move(*refusal));
  const uint64_t queue_id = (*queue)->id();
  CommitPlan plan;
  plan.add({static_cast<uint16_t>(RecordType::kQueueDeleted), false, encode(QueueDeletedRecord{queue_id})});
  if (exchanges_of(vhost).forget_queue(name)) plan_exchanges_record(plan, vhost);
  queue_ids_.erase({vhost, name});
  deleting_queues_.insert(queue_id);
  plan.on_failed.push_back([this, queue_id, vhost, name] {
    deleting_queues_.erase(queue_id);
    queue_ids_[{vhost, name}] = queue_id;
  });
  plan.on_durable.push_back([this, queue_id] {
    Queue& doomed = *queues_.at(queue_id);
    for (const auto& [key, entry] : doomed.entries()) track_location(entry.segment_id, -1);
    auto waiting = waiters_.extract(queue_id);
    if (waiting) {
      for (Waiter& waiter : waiting.mapped()) waiter.done(std::vector<DeliveredMessage>{});
    }
    deleting_queues_.erase(queue_id);
    queues_.erase(queue_id);
  });
  log::event(log::Level::kInfo, "broker.queue_deleted", {log::kv("vhost", vhost), log::kv("queue", name)});
  auto status = submit(std::move(plan), [done](Status committed) { done(std::move(committed)); });
  if (!status) done(std::move(status));
}

void BrokerCore::do_purge_queue(const std::string& vhost, const std::string& name,
                                Callback<SettleOutcome> done) {
  auto found = require_queue(vhost, name);
  if (!found) return done(std::move(found).error());
  Queue& queue = **found;
  const std::vector<uint64_t> keys = queue.ready_and_delayed();
  if (keys.empty()) return done(SettleOutcome{0});
  struct Progress {
    size_t commits_left = 0;
    std::optional<Error> error;
    Callback<SettleOutcome> done;
  };
  auto progress = std::make_shared<Progress>();
  progress->done = std::move(done);
  progress->commits_left = (keys.size() + kPurgeRecordsPerCommit - 1) / kPurgeRecordsPerCommit;
  const uint64_t total = keys.size();
  for (size_t first = 0; first < keys.size(); first += kPurgeRecordsPerCommit) {
    CommitPlan plan;
    const size_t last = std::min(keys.size(), first + kPurgeRecordsPerCommit);
    for (size_t i = first; i < last; ++i) plan_settle(plan, queue, keys[i], SettleReason::kPurged);
    auto finished = [progress, total](Status committed) {
      if (!committed && !progress->error) progress->error = committed.error();
      if (--progress->commits_left > 0) return;
      if (progress->error) return progress->done(*progress->error);
      progress->done(SettleOutcome{total});
    };
    auto status = submit(std::move(plan), finished);
    if (!status) finished(std::move(status));
  }
}

std::optional<Error> BrokerCore::storage_refusal() const {
  return journal_->sticky_error();
}

std::optional<Error> BrokerCore::growth_refusal() const {
  if (auto error = journal_->sticky_error()) return error;
  if (auto error = journal_->self_check_error()) return error;
  if (!journal_->reserve_in_use()) return limits_.refusal(*journal_);
  return Error(
      ErrorCode::kStorageFull,
      fmt::format("the file system holding {} is full ({}); the journal is running on its "
                  "reserve (storage.reserve_bytes = {}), kept for acks, nacks and deletes so "
                  "consumers can drain, so new messages and queues are refused",
                  options_.data_dir, storage::free_space_text(options_.data_dir), options_.reserve_bytes),
      "free space on that file system (or drain queues); publishing resumes by itself once "
      "the reserve can be allocated again");
}

Status BrokerCore::submit(CommitPlan plan, std::function<void(Status)> finished) {
  auto shared = std::make_shared<CommitPlan>(std::move(plan));
  // The payloads go to the journal (moved, not copied): nothing reads them afterwards.
  auto appended = journal_->append(std::move(shared->records), [this, shared, finished](Status status) {
    const bool posted = loop_.post([this, shared, finished, status]() mutable {
      if (status) {
        apply_durable(*shared);
        serve_queued_waiters();
      } else {
        undo(*shared);
      }
      finished(std::move(status));
    });
    BALLAST_CHECK(posted, "a journal commit completed after the broker loop stopped");
  });
  if (!appended) {
    undo(*shared);
    return std::move(appended).error();
  }
  apply_appended(*shared, *appended);
  return ok_status();
}

void BrokerCore::apply_appended(CommitPlan& plan, const std::vector<storage::AppendedRecord>& appended) {
  for (size_t i = 0; i < plan.on_appended.size(); ++i) {
    if (plan.on_appended[i]) plan.on_appended[i](appended[i]);
  }
  for (PlannedAppend& append : plan.appends) {
    const storage::AppendedRecord& where = appended[append.record_index];
    append.entry.key = where.seq;
    append.entry.segment_id = where.location.segment_id;
    append.entry.offset = where.location.offset;
    append.entry.record_bytes = where.location.bytes;
    queues_.at(append.queue_id)->add(append.entry);
    track_location(append.entry.segment_id, +1);
    hot_messages_.put(where.seq, std::move(append.message));
  }
}

void BrokerCore::apply_durable(CommitPlan& plan) {
  for (const PlannedAppend& append : plan.appends) {
    auto found = queues_.find(append.queue_id);
    if (found == queues_.end()) continue;
    found->second->make_visible(append.entry.key, clock_->wall_ms());
    queues_to_serve_.insert(append.queue_id);
  }
  for (const PlannedSettle& settle : plan.settles) {
    auto found = queues_.find(settle.queue_id);
    const MessageEntry* settled = found == queues_.end() ? nullptr : found->second->find(settle.key);
    if (settled == nullptr) continue;
    track_location(settled->segment_id, -1);
    found->second->remove(settle.key);
  }
  for (auto& action : plan.on_durable) action();
}

void BrokerCore::undo(CommitPlan& plan) {
  for (auto it = plan.settles.rbegin(); it != plan.settles.rend(); ++it) {
    auto found = queues_.find(it->queue_id);
    if (found != queues_.end()) found->second->abort_settle(it->key, EntryState::kReady);
  }
  for (auto it = plan.appends.rbegin(); it != plan.appends.rend(); ++it) {
    auto found = queues_.find(it->queue_id);
    if (found == queues_.end() || it->entry.key == 0) continue;
    if (const MessageEntry* entry = found->second->find(it->entry.key)) track_location(entry->segment_id, -1);
    found->second->remove(it->entry.key);
    // The journal gives a failed commit's sequence numbers (the keys) out again after a repair.
    hot_messages_.discard(it->entry.key);
  }
  for (auto it = plan.on_failed.rbegin(); it != plan.on_failed.rend(); ++it) (*it)();
}

void BrokerCore::submit_in_background(CommitPlan plan, std::string_view what) {
  if (plan.empty()) return;
  auto report = [what = std::string(what)](Status status) {
    if (status) return;
    log::event(log::Level::kWarn, "broker.background_commit_failed",
               {log::kv("what", what), log::kv("code", status.error().code_name()),
                log::kv("message", status.error().message())});
  };
  auto status = submit(std::move(plan), report);
  if (!status) report(std::move(status));
}

void BrokerCore::plan_settle(CommitPlan& plan, Queue& queue, uint64_t key, SettleReason reason) {
  MessageEntry* entry = queue.find(key);
  BALLAST_CHECK(entry != nullptr, "settle of unknown key {} in queue {}", key, queue.name());
  const uint64_t queue_id = queue.id();
  queue.begin_settle(key);
  plan.add({static_cast<uint16_t>(RecordType::kMessageSettled), false,
            encode(MessageSettledRecord{queue_id, key, reason})});
  plan.settles.push_back(PlannedSettle{queue_id, key});
}

void BrokerCore::plan_append(CommitPlan& plan, Queue& queue, MessageAppendedRecord record,
                             uint32_t body_bytes) {
  if (store_triggers_ != nullptr && store_triggers_->triggers_any()) plan_trigger_work(plan, queue, record);
  const uint64_t queue_id = queue.id();
  MessageEntry entry;
  entry.priority = record.priority;
  entry.delivery_count = record.delivery_count;
  entry.expires_at_ms = record.expires_at_ms;
  entry.deliver_at_ms = record.deliver_at_ms;
  entry.body_bytes = body_bytes;
  entry.state = EntryState::kPending;
  record.queue_id = queue_id;
  plan.add({static_cast<uint16_t>(RecordType::kMessageAppended), false, encode(record)});
  plan.appends.push_back(PlannedAppend{plan.records.size() - 1, queue_id, entry, std::move(record)});
}

void BrokerCore::serve_queued_waiters() {
  // Once per commit, after every message in it became visible: waiting consumers get them
  // in one batch rather than one by one.
  std::set<uint64_t> queues = std::move(queues_to_serve_);
  queues_to_serve_.clear();
  for (uint64_t queue_id : queues) {
    auto found = queues_.find(queue_id);
    if (found != queues_.end()) serve_waiters(*found->second);
  }
}

void BrokerCore::track_location(uint64_t segment_id, int delta) {
  uint64_t& live = live_per_segment_[segment_id];
  live = delta > 0 ? live + 1 : live - 1;
  if (live == 0) live_per_segment_.erase(segment_id);
}

void BrokerCore::record_problem(ErrorCode code, std::string message, std::string fix) {
  Error error(code, std::move(message), std::move(fix));
  recovery_problems_.push_back(DegradedPart{"storage", code, error.describe()});
}

}  // namespace ballast::broker

#pragma once
// BrokerCore: the Broker implementation (see broker.h for the contract). Owns the journal,
// every queue and the broker thread. Internal to src/broker: front ends use broker.h.
//
// Threading: public Broker methods post to the event loop; everything named do_* or below
// runs on the loop thread only. Journal callbacks arrive on the journal's writer thread and
// are posted back to the loop. health() reads a snapshot under health_mu_.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>

#include "broker/broker.h"
#include "broker/commit_plan.h"
#include "broker/content_sink.h"
#include "broker/damaged_queues.h"
#include "broker/event_loop.h"
#include "broker/exchange_table.h"
#include "broker/hot_messages.h"
#include "broker/journal_records.h"
#include "broker/queue.h"
#include "broker/resource_limits.h"
#include "storage/journal.h"
#include "util/bytes.h"
#include "util/clock.h"

namespace ballast::broker {

// A message's journal record for `queue`, without its body (the caller moves or copies it in):
// the queue's TTL and priority cap applied.
MessageAppendedRecord message_record(const Queue& queue, const PublishRequest& request, int64_t now);
// `record` made a new message for another queue (a dead letter, a trigger's work item): ready at
// once, never expiring, not yet delivered, with `properties`.
MessageAppendedRecord reissued_record(MessageAppendedRecord record, const MessageProperties& properties);

class BrokerCore final : public Broker, private storage::RecoveryVisitor {
 public:
  BrokerCore(const BrokerOptions& options, std::unique_ptr<storage::FileSystem> owned_file_system,
             std::unique_ptr<Clock> clock);
  ~BrokerCore() override;

  // Opens the journal and rebuilds the queues (on the calling thread, before run()).
  Status open();

  void set_publish_filter(PublishFilter* filter) override;
  void set_store_triggers(StoreTriggers* triggers) override;
  void run() override;
  void stop() override;
  void create_queue(std::string vhost, std::string name, QueueSettings settings,
                    Callback<CreateQueueOutcome> done) override;
  void delete_queue(std::string vhost, std::string name, Callback<void> done) override;
  void purge_queue(std::string vhost, std::string name, Callback<SettleOutcome> done) override;
  void list_queues(std::string vhost, Callback<std::vector<QueueInfo>> done) override;
  void queue_info(std::string vhost, std::string name, Callback<QueueInfo> done) override;
  void publish(std::string vhost, std::string name, std::vector<PublishRequest> messages,
               Callback<PublishOutcome> done) override;
  void receive(std::string vhost, std::string name, ReceiveRequest request,
               Callback<std::vector<DeliveredMessage>> done) override;
  void cancel_receive(std::string vhost, std::string name, uint64_t waiter_id) override;
  void ack(std::string vhost, std::string name, std::vector<std::string> receipts,
           Callback<SettleOutcome> done) override;
  void nack(std::string vhost, std::string name, std::vector<std::string> receipts, bool requeue,
            Callback<SettleOutcome> done) override;
  void ack_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases,
                  Callback<SettleOutcome> done) override;
  void nack_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases, bool requeue,
                   Callback<SettleOutcome> done) override;
  void dead_letter_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases,
                          std::string reason, Callback<SettleOutcome> done) override;
  void extend(std::string vhost, std::string name, std::vector<std::string> receipts,
              uint32_t visibility_timeout_seconds, Callback<SettleOutcome> done) override;
  void peek(std::string vhost, std::string name, uint32_t max_messages,
            Callback<std::vector<DeliveredMessage>> done) override;
  void stats(Callback<BrokerStats> done) override;
  void store_plugin_settings(std::string plugin, std::string settings, Callback<void> done) override;
  std::map<std::string, std::string> recovered_plugin_settings() const override;
  void publish_routed(std::string vhost, std::vector<RoutedMessage> messages,
                      Callback<std::vector<RouteResult>> done) override;
  void declare_exchange(std::string vhost, std::string name, ExchangeSettings settings, bool passive,
                        Callback<void> done) override;
  void delete_exchange(std::string vhost, std::string name, bool if_unused, Callback<void> done) override;
  void bind(std::string vhost, Binding binding, Callback<void> done) override;
  void unbind(std::string vhost, Binding binding, Callback<void> done) override;
  HealthReport health() const override;

  // Compacts the oldest segment if it lags, then writes a checkpoint (which reclaims dead
  // segments); `done` runs once the checkpoint is on disk. Used by tests and maintenance.
  void checkpoint_now(Callback<void> done);

  // Hands every queue, exchange table and message, as recovered by open(), to `sink`
  // (broker_export.cc). Only between open() and run(), on the opening thread; reads the
  // journal and writes nothing.
  void export_contents(ContentSink& sink);

 private:
  struct Waiter {
    ReceiveRequest request;
    int64_t deadline_monotonic_ms = 0;
    Callback<std::vector<DeliveredMessage>> done;
  };
  // How often a spent disk reserve is allocated again (and how long after start the first try):
  // every storage.self_check_interval_ms, at most kReserveRetryMs apart, so publishing resumes
  // within two self-check intervals of space coming back.
  static constexpr int64_t kReserveRetryMs = 1000;
  int64_t reserve_retry_ms() const;

  // What an ack, nack or extend names: receipt strings (HTTP), or leases as numbers (AMQP).
  struct LeaseList {
    std::vector<std::string> receipts;
    std::vector<LeaseRef> leases;
  };

  // Posts `task` to the loop, or answers SHUTTING_DOWN when the broker is stopping.
  template <typename T>
  void on_loop(Callback<T>& done, std::function<void()> task) {
    if (stopping_.load() || !loop_.post(std::move(task))) done(shutting_down_error());
  }
  Error shutting_down_error() const;

  // Queues (broker_core.cc).
  Queue* find_queue(const std::string& vhost, const std::string& name);
  Result<Queue*> require_queue(const std::string& vhost, const std::string& name);
  Queue& create_queue_now(const std::string& vhost, const std::string& name, const QueueSettings& settings,
                          CommitPlan& plan);
  // The queues that a dead letter of `source` goes to: its dead-letter exchange's routes, or
  // the named queue on the default exchange (created on first use, in `plan`); the vhost's
  // ballast.dead-letter when the exchange routes it nowhere.
  std::vector<Queue*> resolve_dead_letter_targets(Queue& source, const MessageProperties& properties,
                                                  CommitPlan& plan);
  Queue& queue_or_create(const std::string& vhost, const std::string& name, CommitPlan& plan);
  QueueInfo describe(Queue& queue);
  void do_create_queue(const std::string& vhost, const std::string& name, const QueueSettings& settings,
                       Callback<CreateQueueOutcome> done);
  void do_delete_queue(const std::string& vhost, const std::string& name, Callback<void> done);
  void do_purge_queue(const std::string& vhost, const std::string& name, Callback<SettleOutcome> done);

  // Commits (broker_core.cc).
  Status submit(CommitPlan plan, std::function<void(Status)> finished);
  // The three phases of a submitted plan (commit_plan.h says in which order they act).
  void apply_appended(CommitPlan& plan, const std::vector<storage::AppendedRecord>& appended);
  void apply_durable(CommitPlan& plan);
  void undo(CommitPlan& plan);
  void submit_in_background(CommitPlan plan, std::string_view what);
  void plan_settle(CommitPlan& plan, Queue& queue, uint64_t key, SettleReason reason);
  void plan_append(CommitPlan& plan, Queue& queue, MessageAppendedRecord record, uint32_t body_bytes);
  // Why no commit can be made now (the journal is sticky-failed), if so.
  std::optional<Error> storage_refusal() const;
  // Why work that grows the journal (publishes, new queues) is refused now: a sticky failure,
  // a full disk with the journal running on its reserve, or a broker limit (limits_).
  std::optional<Error> growth_refusal() const;
  void restore_reserve_when_due(int64_t now_monotonic_ms);

  // Publish (broker_publish.cc).
  // The messages of one publish that go to one queue, in order.
  struct PublishGroup {
    Queue* queue = nullptr;
    std::vector<PublishRequest> messages;
  };
  void do_publish(const std::string& vhost, const std::string& name, std::vector<PublishRequest>& requests,
                  Callback<PublishOutcome> done);
  // Stores every group in one commit started by `plan` (all or nothing); `ids` (the batch's
  // message ids, for the dedup window) are remembered by `dedup_queue`.
  void commit_publish(CommitPlan plan, std::vector<PublishGroup>& groups, Queue& dedup_queue,
                      const std::set<std::string>& ids, PublishOutcome outcome,
                      Callback<PublishOutcome> done);
  Status plan_room(Queue& queue, uint64_t count, uint64_t bytes, CommitPlan& plan);
  // The undo of remembering `ids` at `now` for the dedup window: a failed publish may be retried.
  std::function<void()> forget_ids_on_failure(Queue& queue, const std::set<std::string>& ids, int64_t now);
  std::string new_message_id();

  // Exchanges and routed publishing (broker_routing.cc).
  ExchangeTable& exchanges_of(const std::string& vhost);
  // Adds the record that stores `vhost`'s whole exchange table as it is now.
  void plan_exchanges_record(CommitPlan& plan, const std::string& vhost);

  // Plug-in run-time settings (broker_plugin_settings.cc).
  void set_plugin_settings(const std::string& plugin, std::string settings);
  Status apply_plugin_settings_record(std::string_view payload);
  // Applies `change` to `vhost`'s table and journals the result; the table is restored if the
  // commit fails, and nothing changes when storage refuses commits.
  using ExchangeChange = std::function<Status(ExchangeTable& table, bool& changed)>;
  void change_exchanges(const std::string& vhost, const ExchangeChange& change, Callback<void> done);
  std::vector<Queue*> route_targets(const std::string& vhost, const RoutedMessage& message,
                                    std::optional<Error>& refused);
  void do_publish_routed(const std::string& vhost, std::vector<RoutedMessage>& messages,
                         Callback<std::vector<RouteResult>> done);
  // Which messages go to which queue, in order; refusals go into `results`.
  std::map<Queue*, std::vector<size_t>> route_all(const std::string& vhost,
                                                  std::vector<RoutedMessage>& messages,
                                                  std::vector<RouteResult>& results);
  // Stores `per_queue` in one commit; `done` gets `results` with the stored counts added.
  void commit_routed(CommitPlan plan, std::vector<RoutedMessage>& messages,
                     std::map<Queue*, std::vector<size_t>>& per_queue, std::vector<RouteResult> results,
                     Callback<std::vector<RouteResult>> done);
  // The messages (indices into `messages`) that `queue` takes, in order; refusals go into
  // `results`; drop-head's dead-lettering goes into `plan`.
  std::vector<size_t> admit(Queue& queue, const std::vector<RoutedMessage>& messages,
                            const std::vector<size_t>& indices, int64_t now,
                            std::vector<RouteResult>& results, CommitPlan& plan);

  // Publish filters (broker_filtering.cc; docs/plugins.md).
  // A publish to a filtered queue: asks the filter, then stores by the verdicts.
  void filter_publish(const std::string& vhost, const std::string& name, std::vector<PublishRequest> messages,
                      std::set<std::string> ids, PublishOutcome outcome, Callback<PublishOutcome> done);
  void store_filtered(const std::string& vhost, const std::string& name, std::vector<FilterVerdict>& verdicts,
                      const std::set<std::string>& ids, PublishOutcome outcome,
                      Callback<PublishOutcome> done);
  // Where a verdict stores its message (the held queue is created in `plan` on first use), or
  // why it is refused. Adds the bypass header to the message.
  Result<Queue*> verdict_target(Queue& source, FilterVerdict& verdict, CommitPlan& plan);
  // Routed publishing: takes the (message, queue) pairs whose queue has a filter out of
  // `per_queue` and sends each queue's share to its filter. Returns the callback for the
  // unfiltered rest; `done` is answered once every part is, with one result per message.
  struct RoutedJoin;
  Callback<std::vector<RouteResult>> divert_filtered(const std::string& vhost,
                                                     std::vector<RoutedMessage>& messages,
                                                     std::map<Queue*, std::vector<size_t>>& per_queue,
                                                     Callback<std::vector<RouteResult>> done);
  void store_filtered_routed(const std::string& vhost, const std::string& name, std::vector<size_t> indices,
                             std::vector<FilterVerdict>& verdicts, const std::shared_ptr<RoutedJoin>& join);
  // Sends the held messages of queues whose filter is back through it (from tick()).
  void release_held();
  void release_held_queue(Queue& held, const std::string& target_name);
  void settle_released(uint64_t held_id, std::vector<uint64_t> keys, std::vector<FilterVerdict>& verdicts,
                       const std::string& target_name);

  // Triggers (broker_triggers.cc; docs/plugins.md, "Triggers").
  // Adds a work item for each trigger of `queue` to `plan` (the record is copied).
  void plan_trigger_work(CommitPlan& plan, const Queue& queue, const MessageAppendedRecord& record);
  void do_dead_letter(const std::string& vhost, const std::string& name, const LeaseList& list,
                      std::string_view reason, Callback<SettleOutcome> done);

  // Delivery (broker_delivery.cc).
  std::vector<DeliveredMessage> take_ready(Queue& queue, const ReceiveRequest& request);
  // nullopt when the message's record no longer reads: logged, and `queue` noted as damaged.
  std::optional<DeliveredMessage> load_message(const Queue& queue, const MessageEntry& entry);
  Result<MessageAppendedRecord> read_message(const MessageEntry& entry);
  void do_cancel_receive(const std::string& vhost, const std::string& name, uint64_t waiter_id);
  void do_receive(const std::string& vhost, const std::string& name, const ReceiveRequest& request,
                  Callback<std::vector<DeliveredMessage>> done);
  // The message keys `list` names (each once), if every one is a live lease of `queue`; else
  // RECEIPT_INVALID quoting the first bad receipt.
  Result<std::vector<uint64_t>> validate_receipts(Queue& queue, const LeaseList& list);
  // The queue and message keys named by `list`, if they are all valid leases and the journal
  // can commit; else the error to answer.
  Result<std::pair<Queue*, std::vector<uint64_t>>> leased_messages(const std::string& vhost,
                                                                   const std::string& name,
                                                                   const LeaseList& list);
  void do_ack(const std::string& vhost, const std::string& name, const LeaseList& list,
              Callback<SettleOutcome> done);
  void do_nack(const std::string& vhost, const std::string& name, const LeaseList& list, bool requeue,
               Callback<SettleOutcome> done);
  void do_extend(const std::string& vhost, const std::string& name, const LeaseList& list, uint32_t seconds,
                 Callback<SettleOutcome> done);
  void do_peek(const std::string& vhost, const std::string& name, uint32_t max,
               Callback<std::vector<DeliveredMessage>> done);
  // Submits `plan` and answers `done` with `count` once it is durable (or with its error).
  void submit_settlement(CommitPlan plan, uint64_t count, Callback<SettleOutcome> done);
  void plan_dead_letter(CommitPlan& plan, Queue& queue, uint64_t key, std::string_view reason);
  void dead_letter_now(Queue& queue, uint64_t key, std::string_view reason);
  void plan_return(CommitPlan& plan, Queue& queue, uint64_t key);
  void serve_waiters(Queue& queue);
  void serve_queued_waiters();
  void tick();
  void expire_waiters(int64_t now_monotonic_ms);
  std::string make_receipt(const LeaseRef& lease) const;
  std::optional<LeaseRef> parse_receipt(const std::string& receipt) const;

  // Recovery and checkpoints (broker_recovery.cc).
  void load_snapshot(std::span<const std::byte> snapshot) override;
  // One queue and its messages from the snapshot; false if the bytes do not parse.
  bool load_snapshot_queue(ByteReader& reader, int64_t now_wall_ms);
  void apply_group(std::span<const storage::ReplayedRecord> group) override;
  void apply_record(const storage::ReplayedRecord& record);
  void after_recovery(const storage::RecoveryReport& report);
  std::string encode_snapshot(bool clean) const;
  void write_checkpoint(bool clean, storage::CommitCallback written = {});
  // Submits a compaction commit if the oldest live segment lags; false if there was nothing to do.
  bool compact_oldest_segment(std::function<void(Status)> finished);
  void track_location(uint64_t segment_id, int delta);
  void record_problem(ErrorCode code, std::string message, std::string fix);
  void refresh_health();

  BrokerOptions options_;
  std::unique_ptr<storage::FileSystem> owned_file_system_;
  storage::FileSystem* file_system_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<storage::Journal> journal_;
  EventLoop loop_;
  std::atomic<bool> stopping_{false};
  bool running_ = false;
  bool stopped_ = false;

  // Loop thread only (and the opening thread before run()).
  std::map<uint64_t, std::unique_ptr<Queue>> queues_;
  std::map<std::pair<std::string, std::string>, uint64_t> queue_ids_;
  std::map<std::string, ExchangeTable> exchanges_;      // by vhost
  std::map<std::string, std::string> plugin_settings_;  // by plug-in name; never empty strings
  HotMessages hot_messages_;
  ResourceLimits limits_;
  std::set<uint64_t> queues_to_serve_;  // queues whose new messages became visible in this commit
  std::set<uint64_t> deleting_queues_;
  uint64_t next_queue_id_ = 1;
  std::map<uint64_t, uint64_t> live_per_segment_;
  std::map<uint64_t, std::deque<Waiter>> waiters_;
  std::mt19937_64 random_;
  uint64_t instance_tag_ = 0;
  uint64_t next_nonce_ = 1;
  bool snapshot_was_clean_ = false;
  int64_t next_checkpoint_ms_ = 0;
  int64_t next_reserve_attempt_ms_ = 0;
  std::vector<DegradedPart> recovery_problems_;
  PublishFilter* publish_filter_ = nullptr;  // set before run(); see set_publish_filter
  std::set<uint64_t> releasing_held_;        // held queues with a release under way
  StoreTriggers* store_triggers_ = nullptr;  // set before run(); see set_store_triggers
  DamagedQueues damaged_queues_;

  mutable std::mutex health_mu_;
  HealthReport health_;  // guarded by health_mu_
};

}  // namespace ballast::broker

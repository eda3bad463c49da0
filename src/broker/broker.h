#pragma once
// The broker core's public face: vhosts, queues and messages over one shared journal.
//
// Threading: every method is thread-safe. Each call is posted to the broker thread, which owns
// all queue state; `done` is invoked exactly once, on the broker thread (or at once on the
// calling thread with SHUTTING_DOWN once stop() has begun), and must not block (front ends
// post the result back to their own executor). health() and is_serving() may be
// called from any thread and never block on the broker thread.
//
// Durability: publish, ack, nack, purge, delete and queue creation call `done` only after the
// journal records that carry them are durable (fsync'd, or written in sync mode `interval`).
//
// Lifetime: construct with open(); run() starts the broker and journal threads; stop() drains
// and joins them. The Broker must outlive every callback it has not yet invoked; stop() invokes
// every pending callback (long polls answer with what they have, others SHUTTING_DOWN).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/message.h"
#include "broker/publish_filter.h"
#include "broker/queue_settings.h"
#include "broker/store_triggers.h"
#include "storage/file_system.h"
#include "storage/journal.h"
#include "util/result.h"

namespace ballast::broker {

template <typename T>
using Callback = std::function<void(Result<T>)>;

struct QueueStats {
  uint64_t messages = 0;    // ready now (or ready as soon as the fsync under way ends)
  uint64_t in_flight = 0;   // leased to a consumer
  uint64_t delayed = 0;     // not yet due
  uint64_t bytes = 0;       // body bytes of all three
  double publish_rate = 0;  // per second, over the last minute
  double deliver_rate = 0;
  double ack_rate = 0;
};

struct QueueInfo {
  std::string vhost;
  std::string name;
  QueueSettings settings;
  QueueStats stats;
};

struct BrokerStats {
  uint64_t queues = 0;
  QueueStats totals;  // summed over every queue
  uint64_t journal_bytes = 0;
  uint64_t journal_segments = 0;
};

struct CreateQueueOutcome {
  bool created = false;  // false: it already existed with the same settings
};

struct SettleOutcome {
  uint64_t settled = 0;
};

// A part of the broker that is not fully working, for /healthz and the log.
struct DegradedPart {
  std::string component;  // e.g. "storage"
  ErrorCode code;
  std::string message;  // Error::describe() of the cause
};

// A queue with messages that cannot be read back (their journal records are damaged), found at
// recovery or on delivery. The rest of the queue is served; those messages are dropped.
struct DamagedQueue {
  std::string vhost;
  std::string name;
  ErrorCode code = ErrorCode::kStorageCorrupt;
  uint64_t unreadable_messages = 0;  // found so far
  std::string message;               // the first damage found, naming segment and offset
};

struct HealthReport {
  bool serving = true;  // false only when the broker can serve nothing
  std::vector<DegradedPart> degraded;
  std::vector<DamagedQueue> damaged_queues;  // by vhost and name
  // Why publishes (and new queues) are refused broker-wide right now, if they are: the
  // journal is sticky-failed, the disk is full or a broker limit (limits.max_disk_bytes,
  // limits.max_memory_bytes) is reached. Front ends tell publishers (AMQP:
  // connection.blocked) and tell them again when it clears.
  std::optional<Error> publish_refusal;
};

enum class SyncMode : uint8_t { kAlways, kInterval };

// Exchanges route a published message to queues by its routing key (and, for headers
// exchanges, its headers). Every vhost has the default exchange "" (routing key = queue name)
// and amq.direct, amq.fanout, amq.topic, amq.headers and amq.match.
enum class ExchangeType : uint8_t { kDirect = 1, kFanout = 2, kTopic = 3, kHeaders = 4 };
std::string_view exchange_type_name(ExchangeType type);
std::optional<ExchangeType> parse_exchange_type(std::string_view name);

struct ExchangeSettings {
  ExchangeType type = ExchangeType::kDirect;
  bool durable = true;
  bool auto_delete = false;  // deleted when its last binding goes
  bool internal = false;     // no direct publishing
  bool operator==(const ExchangeSettings&) const = default;
};

// A binding from an exchange to a queue. For headers exchanges `arguments` holds the header
// values to match (as text) and "x-match" = "all" (default) or "any".
struct Binding {
  std::string exchange;
  std::string queue;
  std::string routing_key;
  std::vector<std::pair<std::string, std::string>> arguments;
  bool operator==(const Binding&) const = default;
};

// One message to route through an exchange.
struct RoutedMessage {
  std::string exchange;
  std::string routing_key;
  std::vector<std::pair<std::string, std::string>> match_headers;  // for headers exchanges
  PublishRequest request;
};

struct RouteResult {
  uint32_t queues = 0;           // queues the message was stored in; 0 = unroutable
  std::optional<Error> refused;  // set when it was not stored (e.g. QUEUE_LIMIT_REACHED)
};

struct BrokerOptions {
  std::string data_dir;                        // storage.data_dir
  uint64_t segment_bytes = 64ull << 20;        // storage.segment_size
  SyncMode sync_mode = SyncMode::kAlways;      // storage.sync_mode
  uint32_t sync_interval_ms = 200;             // storage.sync_interval_ms
  uint32_t commit_window_us = 500;             // storage.commit_window_us
  uint32_t self_check_interval_ms = 5000;      // storage.self_check_interval_ms
  uint64_t reserve_bytes = 64ull << 20;        // storage.reserve_bytes
  uint32_t checkpoint_interval_ms = 30000;     // storage.checkpoint_interval_ms
  uint64_t max_message_bytes = 16ull << 20;    // limits.max_message_bytes
  uint64_t read_cache_bytes = 64ull << 20;     // storage.read_cache_bytes (HotMessages); 0 = off
  storage::FileSystem* file_system = nullptr;  // null = the real POSIX file system
  // Only the crash-consistency test sets this (to prove it catches broken journals).
  storage::JournalDefect journal_defect = storage::JournalDefect::kNone;

  // Broker-wide limits on growth (resource_limits.h); 0 = off.
  uint64_t max_disk_bytes = 0;    // limits.max_disk_bytes
  uint64_t max_memory_bytes = 0;  // limits.max_memory_bytes
  // How much memory the broker uses, in bytes; null = the process's resident set
  // (util/process_memory.h). Only tests set it.
  std::function<Result<uint64_t>()> memory_probe;
};

class Broker {
 public:
  // Locks the data directory, recovers the journal and rebuilds every queue. Fails with
  // DATA_DIR_LOCKED (naming the PID holding it), STORAGE_PERMISSION_DENIED, STORAGE_FULL,
  // STORAGE_IO_ERROR or INVALID_ARGUMENT. Damage that recovery can route around is not a
  // failure: it is reported by health() as STORAGE_CORRUPT.
  static Result<std::unique_ptr<Broker>> open(const BrokerOptions& options);
  virtual ~Broker() = default;

  // Routes publishes to the queues `filter` names through it (docs/plugins.md); null = none.
  // Only before run(). The filter must answer every call before stop() (stop it first).
  virtual void set_publish_filter(PublishFilter* filter) = 0;
  // Appends a work item for each trigger `triggers` names to "ballast.trigger.<plugin>" in the
  // commit that stores a message (broker/store_triggers.h); null = none. Only before run().
  virtual void set_store_triggers(StoreTriggers* triggers) = 0;
  // Starts the broker thread and the journal's writer thread.
  virtual void run() = 0;
  // Refuses new work with SHUTTING_DOWN, answers pending calls, writes a final checkpoint and
  // joins the threads. Idempotent.
  virtual void stop() = 0;

  virtual void create_queue(std::string vhost, std::string name, QueueSettings settings,
                            Callback<CreateQueueOutcome> done) = 0;
  virtual void delete_queue(std::string vhost, std::string name, Callback<void> done) = 0;
  virtual void purge_queue(std::string vhost, std::string name, Callback<SettleOutcome> done) = 0;
  virtual void list_queues(std::string vhost, Callback<std::vector<QueueInfo>> done) = 0;
  virtual void queue_info(std::string vhost, std::string name, Callback<QueueInfo> done) = 0;

  // All messages are stored in one atomic journal commit, or none is.
  virtual void publish(std::string vhost, std::string name, std::vector<PublishRequest> messages,
                       Callback<PublishOutcome> done) = 0;
  // Routes every message through its exchange and stores all that route in one atomic journal
  // commit; results are in the order of `messages`. Fails as a whole only when the commit
  // fails. An unknown exchange refuses the message with NOT_FOUND naming it.
  virtual void publish_routed(std::string vhost, std::vector<RoutedMessage> messages,
                              Callback<std::vector<RouteResult>> done) = 0;
  // Creates the exchange, or checks that it exists with these settings (QUEUE_EXISTS_DIFFERENT
  // otherwise, naming the exchange); passive only checks that it exists (NOT_FOUND).
  virtual void declare_exchange(std::string vhost, std::string name, ExchangeSettings settings, bool passive,
                                Callback<void> done) = 0;
  // if_unused: refuses (PRECONDITION) while the exchange has bindings. The predeclared
  // exchanges cannot be deleted (ACCESS_REFUSED).
  virtual void delete_exchange(std::string vhost, std::string name, bool if_unused, Callback<void> done) = 0;
  // Idempotent; NOT_FOUND names a missing exchange or queue.
  virtual void bind(std::string vhost, Binding binding, Callback<void> done) = 0;
  virtual void unbind(std::string vhost, Binding binding, Callback<void> done) = 0;
  // Leases up to max_messages ready messages; waits up to wait_ms for the first one.
  virtual void receive(std::string vhost, std::string name, ReceiveRequest request,
                       Callback<std::vector<DeliveredMessage>> done) = 0;
  // Ends the long poll named by request.waiter_id (it answers with no messages); nothing if it
  // has already been answered.
  virtual void cancel_receive(std::string vhost, std::string name, uint64_t waiter_id) = 0;
  // Every receipt must be valid, or nothing changes and the call fails with RECEIPT_INVALID
  // naming the first bad one.
  virtual void ack(std::string vhost, std::string name, std::vector<std::string> receipts,
                   Callback<SettleOutcome> done) = 0;
  // requeue=false dead-letters (reason "rejected").
  virtual void nack(std::string vhost, std::string name, std::vector<std::string> receipts, bool requeue,
                    Callback<SettleOutcome> done) = 0;
  // ack and nack with the leases as numbers (DeliveredMessage::lease); the same rules.
  virtual void ack_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases,
                          Callback<SettleOutcome> done) = 0;
  virtual void nack_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases, bool requeue,
                           Callback<SettleOutcome> done) = 0;
  // Dead-letters the leased messages with `reason` as their x-death-reason (nack without
  // requeue says "rejected"); the same rules as ack.
  virtual void dead_letter_leases(std::string vhost, std::string name, std::vector<LeaseRef> leases,
                                  std::string reason, Callback<SettleOutcome> done) = 0;
  virtual void extend(std::string vhost, std::string name, std::vector<std::string> receipts,
                      uint32_t visibility_timeout_seconds, Callback<SettleOutcome> done) = 0;
  virtual void peek(std::string vhost, std::string name, uint32_t max_messages,
                    Callback<std::vector<DeliveredMessage>> done) = 0;
  virtual void stats(Callback<BrokerStats> done) = 0;

  // Stores `settings` (opaque bytes; empty = none) as plug-in `plugin`'s run-time settings in
  // the journal (record type 10); `done` runs once they are durable. The last stored wins.
  virtual void store_plugin_settings(std::string plugin, std::string settings, Callback<void> done) = 0;
  // The run-time settings of every plug-in as recovered by open() (none stored: absent). Only
  // before run(), on the opening thread.
  virtual std::map<std::string, std::string> recovered_plugin_settings() const = 0;

  virtual HealthReport health() const = 0;
};

}  // namespace ballast::broker

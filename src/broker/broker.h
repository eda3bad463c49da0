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
#include <memory>
#include <string>
#include <vector>

#include "broker/message.h"
#include "broker/queue_settings.h"
#include "storage/file_system.h"
#include "storage/journal.h"
#include "util/result.h"

namespace ballast::broker {

template <typename T>
using Callback = std::function<void(Result<T>)>;

struct QueueStats {
  uint64_t messages = 0;    // ready now
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

struct HealthReport {
  bool serving = true;  // false only when the broker can serve nothing
  std::vector<DegradedPart> degraded;
};

enum class SyncMode : uint8_t { kAlways, kInterval };

struct BrokerOptions {
  std::string data_dir;                        // storage.data_dir
  uint64_t segment_bytes = 64ull << 20;        // storage.segment_size
  SyncMode sync_mode = SyncMode::kAlways;      // storage.sync_mode
  uint32_t sync_interval_ms = 200;             // storage.sync_interval_ms
  uint64_t reserve_bytes = 64ull << 20;        // storage.reserve_bytes
  uint32_t checkpoint_interval_ms = 30000;     // storage.checkpoint_interval_ms
  uint64_t max_message_bytes = 16ull << 20;    // limits.max_message_bytes
  storage::FileSystem* file_system = nullptr;  // null = the real POSIX file system
  // Only the crash-consistency test sets this (to prove it catches broken journals).
  storage::JournalDefect journal_defect = storage::JournalDefect::kNone;
};

class Broker {
 public:
  // Locks the data directory, recovers the journal and rebuilds every queue. Fails with
  // DATA_DIR_LOCKED (naming the PID holding it), STORAGE_PERMISSION_DENIED, STORAGE_FULL,
  // STORAGE_IO_ERROR or INVALID_ARGUMENT. Damage that recovery can route around is not a
  // failure: it is reported by health() as STORAGE_CORRUPT.
  static Result<std::unique_ptr<Broker>> open(const BrokerOptions& options);
  virtual ~Broker() = default;

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
  // Leases up to max_messages ready messages; waits up to wait_ms for the first one.
  virtual void receive(std::string vhost, std::string name, ReceiveRequest request,
                       Callback<std::vector<DeliveredMessage>> done) = 0;
  // Every receipt must be valid, or nothing changes and the call fails with RECEIPT_INVALID
  // naming the first bad one.
  virtual void ack(std::string vhost, std::string name, std::vector<std::string> receipts,
                   Callback<SettleOutcome> done) = 0;
  // requeue=false dead-letters (reason "rejected").
  virtual void nack(std::string vhost, std::string name, std::vector<std::string> receipts, bool requeue,
                    Callback<SettleOutcome> done) = 0;
  virtual void extend(std::string vhost, std::string name, std::vector<std::string> receipts,
                      uint32_t visibility_timeout_seconds, Callback<SettleOutcome> done) = 0;
  virtual void peek(std::string vhost, std::string name, uint32_t max_messages,
                    Callback<std::vector<DeliveredMessage>> done) = 0;
  virtual void stats(Callback<BrokerStats> done) = 0;

  virtual HealthReport health() const = 0;
};

}  // namespace ballast::broker

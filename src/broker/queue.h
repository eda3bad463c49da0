#pragma once
// One queue's in-memory index: where each message lives in the journal and what state it is
// in (pending commit, ready, delayed, leased, being settled), the ready order (priority 9..0,
// FIFO by journal key within a priority), leases, delays, expirations, the dedup window and
// rates. Bodies stay in the journal. No I/O and no clock of its own: callers pass the time.
// Not thread-safe: owned by the broker thread.

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/queue_settings.h"
#include "broker/rate_counter.h"

namespace ballast::broker {

enum class EntryState : uint8_t {
  kPending,  // appended, commit not yet durable: invisible
  kReady,
  kDelayed,   // deliver_at_ms in the future
  kLeased,    // delivered, awaiting ack/nack or lease expiry
  kSettling,  // settle record appended, commit not yet durable: gone for the snapshot
};

inline constexpr uint8_t kEntryMaybeDelivered = 1;  // recovered after an unclean stop
inline constexpr uint8_t kEntryMoved = 2;           // stored in a message-moved record

// The fixed per-message index entry (target <= 64 bytes: docs/architecture.md).
struct MessageEntry {
  uint64_t key = 0;  // journal sequence number of the record that stores the message
  uint64_t segment_id = 0;
  uint32_t offset = 0;
  uint32_t record_bytes = 0;
  uint32_t body_bytes = 0;
  uint32_t delivery_count = 0;
  int64_t expires_at_ms = 0;  // wall clock; 0 = never
  int64_t deliver_at_ms = 0;  // wall clock; 0 = at once
  uint8_t priority = 0;
  EntryState state = EntryState::kPending;
  uint8_t flags = 0;
};
static_assert(sizeof(MessageEntry) <= 64, "the index entry must stay small");

// A lease deadline that never comes (ReceiveRequest::hold_until_settled).
inline constexpr int64_t kNeverExpires = std::numeric_limits<int64_t>::max();

struct Lease {
  int64_t deadline_monotonic_ms = 0;
  uint64_t nonce = 0;
};

class Queue {
 public:
  Queue(uint64_t id, std::string vhost, std::string name, QueueSettings settings);

  uint64_t id() const { return id_; }
  const std::string& vhost() const { return vhost_; }
  const std::string& name() const { return name_; }
  const QueueSettings& settings() const { return settings_; }
  void set_settings(QueueSettings settings) { settings_ = std::move(settings); }

  // Adds `entry` in its state (kPending for a publish, kReady/kDelayed from recovery).
  void add(const MessageEntry& entry);
  // kPending -> kReady or kDelayed (by deliver_at_ms against now_wall_ms).
  void make_visible(uint64_t key, int64_t now_wall_ms);
  // Forgets the message in any state.
  void remove(uint64_t key);
  MessageEntry* find(uint64_t key);
  const std::unordered_map<uint64_t, MessageEntry>& entries() const { return entries_; }

  // Takes the next ready message out of the ready order (state unchanged: the caller leases,
  // settles or re-queues it).
  std::optional<uint64_t> pop_ready();
  // Up to `max` ready keys in delivery order, without taking them.
  std::vector<uint64_t> peek_ready(size_t max) const;
  void lease(uint64_t key, Lease lease);
  const Lease* find_lease(uint64_t key) const;
  void extend_lease(uint64_t key, int64_t deadline_monotonic_ms);
  // kLeased (or a popped kReady) -> kReady, at its FIFO place.
  void requeue(uint64_t key);
  // kLeased -> kSettling, or kReady/kDelayed -> kSettling (drop-head, expiry, purge).
  void begin_settle(uint64_t key);
  // kSettling -> back where it was (a settle that failed to commit).
  void abort_settle(uint64_t key, EntryState back_to);

  std::vector<uint64_t> expired_leases(int64_t now_monotonic_ms) const;
  void drop_lease(uint64_t key);
  // Delayed messages now due become ready; returns how many.
  size_t release_due(int64_t now_wall_ms);
  // Ready or delayed messages whose expires_at_ms has passed.
  std::vector<uint64_t> expired_messages(int64_t now_wall_ms) const;
  // Ready keys, oldest first within the lowest priority (drop-head victims).
  std::optional<uint64_t> oldest_ready() const;
  std::vector<uint64_t> ready_and_delayed() const;

  // Messages counted against max_length / max_bytes: pending, ready and delayed.
  uint64_t backlog_count() const { return pending_ + ready_ + delayed_; }
  uint64_t backlog_bytes() const { return backlog_bytes_; }
  uint64_t ready_count() const { return ready_; }
  uint64_t pending_count() const { return pending_; }
  uint64_t leased_count() const { return leased_; }
  uint64_t delayed_count() const { return delayed_; }
  uint64_t total_bytes() const { return total_bytes_; }

  // Idempotent publish: true if `message_id` was published within the window.
  bool is_duplicate(const std::string& message_id, int64_t now_wall_ms);
  void remember_id(const std::string& message_id, int64_t now_wall_ms);
  // Undoes remember_id(message_id, now_wall_ms) (its commit failed, so a retry is no duplicate);
  // nothing if the id was remembered again since.
  void forget_id(const std::string& message_id, int64_t now_wall_ms);

  RateCounter& publish_rate() { return publish_rate_; }
  RateCounter& deliver_rate() { return deliver_rate_; }
  RateCounter& ack_rate() { return ack_rate_; }

 private:
  void count(const MessageEntry& entry, int sign);
  void insert_ready(const MessageEntry& entry);
  void set_state(MessageEntry& entry, EntryState state);

  uint64_t id_;
  std::string vhost_;
  std::string name_;
  QueueSettings settings_;
  std::unordered_map<uint64_t, MessageEntry> entries_;
  std::array<std::deque<uint64_t>, 10> ready_order_;  // may hold stale keys, skipped lazily
  std::set<std::pair<int64_t, uint64_t>> delayed_order_;
  std::set<std::pair<int64_t, uint64_t>> expiry_order_;
  std::unordered_map<uint64_t, Lease> leases_;
  std::set<std::pair<int64_t, uint64_t>> lease_order_;
  std::unordered_map<std::string, int64_t> recent_ids_;
  std::deque<std::pair<int64_t, std::string>> recent_id_order_;
  uint64_t pending_ = 0, ready_ = 0, delayed_ = 0, leased_ = 0, settling_ = 0;
  uint64_t backlog_bytes_ = 0, total_bytes_ = 0;
  RateCounter publish_rate_, deliver_rate_, ack_rate_;
};

}  // namespace ballast::broker

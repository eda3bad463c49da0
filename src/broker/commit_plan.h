#pragma once
// A set of journal records that must commit together, with what to do to the in-memory index
// when they are appended (locations known), once they are durable, and if they fail.
// Built and submitted on the broker thread; its actions run on the broker thread.
// Not thread-safe.
//
// The two actions every message needs (a message appended to a queue, a message settled) are
// kept as data, `appends` and `settles`, not as closures: one std::function per message was a
// measurable share of the per-message CPU budget (docs/architecture.md). BrokerCore::submit
// applies them; everything else (queue creation, exchanges, rates) uses the closures.
// Durable: the data actions first, then on_durable in order. Failed: the data actions undone
// first (each touches only its own message), then on_failed newest first: a closure may undo
// what a data action depends on (a dead-letter queue created by the same plan), never the
// other way round.

#include <functional>
#include <vector>

#include "broker/journal_records.h"
#include "broker/queue.h"
#include "storage/journal.h"

namespace ballast::broker {

struct PlannedAppend {
  size_t record_index = 0;  // into CommitPlan::records
  uint64_t queue_id = 0;
  MessageEntry entry;             // key and location filled in when appended (key 0 until then)
  MessageAppendedRecord message;  // goes to the hot-message cache when appended
};

struct PlannedSettle {
  uint64_t queue_id = 0;
  uint64_t key = 0;
};

struct CommitPlan {
  std::vector<storage::RecordToAppend> records;
  // Parallel to `records`: called with the record's sequence number and location.
  std::vector<std::function<void(const storage::AppendedRecord&)>> on_appended;
  std::vector<std::function<void()>> on_durable;
  std::vector<std::function<void()>> on_failed;  // undo, newest first
  std::vector<PlannedAppend> appends;
  std::vector<PlannedSettle> settles;

  void add(storage::RecordToAppend record,
           std::function<void(const storage::AppendedRecord&)> appended = {}) {
    records.push_back(std::move(record));
    on_appended.push_back(std::move(appended));
  }
  bool empty() const { return records.empty(); }
};

}  // namespace ballast::broker

#pragma once
// A set of journal records that must commit together, with what to do to the in-memory index
// when they are appended (locations known), once they are durable, and if they fail.
// Built and submitted on the broker thread; its actions run on the broker thread.
// Not thread-safe.

#include <functional>
#include <vector>

#include "storage/journal.h"

namespace ballast::broker {

struct CommitPlan {
  std::vector<storage::RecordToAppend> records;
  // Parallel to `records`: called with the record's sequence number and location.
  std::vector<std::function<void(const storage::AppendedRecord&)>> on_appended;
  std::vector<std::function<void()>> on_durable;
  std::vector<std::function<void()>> on_failed;  // undo, newest first

  void add(storage::RecordToAppend record,
           std::function<void(const storage::AppendedRecord&)> appended = {}) {
    records.push_back(std::move(record));
    on_appended.push_back(std::move(appended));
  }
  bool empty() const { return records.empty(); }
};

}  // namespace ballast::broker

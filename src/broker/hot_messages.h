#pragma once
// Recently published messages kept in memory, so that a consumer keeping up with its
// publishers gets each message without reading it back from its segment (no pread, no CRC,
// no decode of the body). Bounded by bytes; the oldest are dropped first (they stay readable
// from the journal, which is the only source of truth). A message is taken out when it is
// delivered or dead-lettered; a redelivery reads it from disk.
// Not thread-safe: owned by the broker thread.

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

#include "broker/journal_records.h"

namespace ballast::broker {

class HotMessages {
 public:
  explicit HotMessages(uint64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // Keeps `record` under its journal key, dropping the oldest entries beyond the capacity.
  void put(uint64_t key, MessageAppendedRecord record);
  // The record under `key`, removed from the cache; nullopt if it is not (or no longer) here.
  std::optional<MessageAppendedRecord> take(uint64_t key);
  // Forgets `key` (a message whose commit failed), if held.
  void discard(uint64_t key) { take(key).reset(); }
  uint64_t bytes() const { return bytes_; }

 private:
  static uint64_t cost(const MessageAppendedRecord& record);

  const uint64_t capacity_bytes_;
  uint64_t bytes_ = 0;
  std::unordered_map<uint64_t, MessageAppendedRecord> records_;
  std::deque<uint64_t> order_;  // keys, oldest first; may name keys already taken
};

}  // namespace ballast::broker

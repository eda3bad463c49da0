#pragma once
// Names the queues a damaged journal range touches, as far as the readable bytes tell: fed by
// storage::verify_journal() as its inspector, it learns queue names from the checkpoint's
// snapshot and the queue-created records, and for each damaged range collects
//  - the queues whose live messages the checkpoint places inside the range;
//  - the queues named by the damaged records themselves, where their headers still read
//    (a flipped byte in a body leaves the header and the queue id intact);
//  - queues that records after the range refer to but whose definition was never read (it
//    was in the range), named by id.
// Payload formats: docs/formats/journal.md, "Record types" and "Broker snapshot".
// Not thread-safe: one verify_journal() call feeds it.

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/journal_verifier.h"

namespace ballast::broker {

struct QueueName {
  std::string vhost;  // empty when only the id is known
  std::string name;   // "queue id 7" when only the id is known
  bool operator<(const QueueName& other) const {
    return std::tie(vhost, name) < std::tie(other.vhost, other.name);
  }
};

class DamagedQueueFinder final : public storage::JournalInspector {
 public:
  void snapshot(std::span<const std::byte> snapshot) override;
  void record(const storage::VerifiedRecord& record) override;
  void damage(const storage::JournalDamage& damage, std::span<const std::byte> bytes) override;

  // One set per damage, in the order verify_journal() reported them.
  std::vector<std::set<QueueName>> affected_queues() const;

 private:
  void learn_queue(std::string_view queue_created_payload);
  void note_reference(uint64_t queue_id);
  // The queues the records in `bytes` name, read without trusting their checksums; only
  // queue ids already known (or defined right there) count, so garbage names nothing.
  void scan_damaged_records(std::span<const std::byte> bytes, std::set<uint64_t>& ids);

  std::map<uint64_t, std::pair<std::string, std::string>> names_;    // queue id -> vhost, name
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> live_messages_;  // (segment, offset) -> queue id
  std::vector<std::set<uint64_t>> affected_ids_;                     // per damage
};

}  // namespace ballast::broker

#include "broker/damaged_queue_finder.h"

#include "broker/journal_records.h"
#include "storage/record_codec.h"
#include "util/bytes.h"

namespace ballast::broker {

namespace {

// Bytes of one message entry in the snapshot after key, segment id and offset (u64, u64,
// u32): record length, body length, delivery count (u32 each), priority, flags (u8 each),
// expires at, deliver at (i64 each).
constexpr size_t kEntryTailBytes = 4 + 4 + 4 + 1 + 1 + 8 + 8;

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The queue id a record of `type` names, if its payload starts as the format says.
std::optional<uint64_t> queue_id_of(uint16_t type, std::span<const std::byte> payload) {
  ByteReader reader(payload);
  uint64_t value = 0;
  switch (static_cast<RecordType>(type)) {
    case RecordType::kQueueCreated:
    case RecordType::kQueueChanged:
    case RecordType::kQueueDeleted:
    case RecordType::kMessageAppended:
    case RecordType::kMessageSettled:
    case RecordType::kMessageReturned:
      if (reader.u64(value)) return value;
      return std::nullopt;
    case RecordType::kMessageMoved:
      if (reader.skip(8) && reader.u64(value)) return value;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

void DamagedQueueFinder::snapshot(std::span<const std::byte> snapshot) {
  ByteReader reader(snapshot);
  uint8_t version = 0, clean = 0;
  uint64_t next_queue_id = 0;
  uint32_t queue_count = 0;
  if (!reader.u8(version) || !reader.u8(clean) || !reader.u64(next_queue_id) || !reader.u32(queue_count))
    return;
  for (uint32_t q = 0; q < queue_count; ++q) {
    std::string definition;
    uint64_t message_count = 0;
    if (!reader.str(definition) || !reader.u64(message_count)) return;
    auto created = decode_queue_created(definition);
    if (!created) return;
    names_[created->queue_id] = {created->vhost, created->name};
    for (uint64_t m = 0; m < message_count; ++m) {
      uint64_t key = 0, segment_id = 0;
      uint32_t offset = 0;
      if (!reader.u64(key) || !reader.u64(segment_id) || !reader.u32(offset) ||
          !reader.skip(kEntryTailBytes)) {
        return;
      }
      live_messages_[{segment_id, offset}] = created->queue_id;
    }
  }
}

void DamagedQueueFinder::record(const storage::VerifiedRecord& record) {
  if (record.type == static_cast<uint16_t>(RecordType::kQueueCreated)) {
    learn_queue(as_text(record.payload));
    return;
  }
  if (auto queue_id = queue_id_of(record.type, record.payload)) note_reference(*queue_id);
}

void DamagedQueueFinder::damage(const storage::JournalDamage& damage, std::span<const std::byte> bytes) {
  std::set<uint64_t> ids;
  const auto first = live_messages_.lower_bound({damage.segment_id, damage.offset});
  const auto last = live_messages_.lower_bound({damage.segment_id, damage.end_offset});
  for (auto it = first; it != last; ++it) ids.insert(it->second);
  scan_damaged_records(bytes, ids);
  affected_ids_.push_back(std::move(ids));
}

std::vector<std::set<QueueName>> DamagedQueueFinder::affected_queues() const {
  std::vector<std::set<QueueName>> result;
  for (const auto& ids : affected_ids_) {
    std::set<QueueName> queues;
    for (uint64_t id : ids) {
      auto found = names_.find(id);
      if (found != names_.end()) {
        queues.insert({found->second.first, found->second.second});
      } else {
        queues.insert({"", fmt::format("queue id {}", id)});
      }
    }
    result.push_back(std::move(queues));
  }
  return result;
}

void DamagedQueueFinder::learn_queue(std::string_view queue_created_payload) {
  auto created = decode_queue_created(queue_created_payload);
  if (created) names_[created->queue_id] = {created->vhost, created->name};
}

void DamagedQueueFinder::note_reference(uint64_t queue_id) {
  // A queue never defined before its first reference had its definition in a damaged range.
  if (names_.contains(queue_id) || affected_ids_.empty()) return;
  affected_ids_.back().insert(queue_id);
}

void DamagedQueueFinder::scan_damaged_records(std::span<const std::byte> bytes, std::set<uint64_t>& ids) {
  size_t position = 0;
  while (position + storage::kRecordHeaderBytes <= bytes.size()) {
    ByteReader header(bytes.subspan(position, storage::kRecordHeaderBytes));
    uint32_t crc = 0, payload_bytes = 0;
    uint16_t type = 0;
    if (!header.u32(crc) || !header.u32(payload_bytes) || !header.u16(type)) return;
    const size_t available = bytes.size() - position - storage::kRecordHeaderBytes;
    const size_t readable = std::min<size_t>(payload_bytes, available);
    const auto payload = bytes.subspan(position + storage::kRecordHeaderBytes, readable);
    if (type == static_cast<uint16_t>(RecordType::kQueueCreated)) {
      if (auto created = decode_queue_created(as_text(payload))) {
        names_[created->queue_id] = {created->vhost, created->name};
        ids.insert(created->queue_id);
      }
    } else if (auto queue_id = queue_id_of(type, payload); queue_id && names_.contains(*queue_id)) {
      ids.insert(*queue_id);
    }
    if (payload_bytes > available) return;
    position += storage::kRecordHeaderBytes + payload_bytes;
  }
}

}  // namespace ballast::broker

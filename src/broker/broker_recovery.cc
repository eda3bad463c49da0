// BrokerCore: rebuilding the index from the checkpoint and the journal, writing checkpoints,
// and compaction (moving live messages out of the oldest segment).
#include "broker/broker_core.h"
#include "storage/record_codec.h"
#include "util/bytes.h"
#include "util/log.h"

namespace ballast::broker {

namespace {

// Version 1: queues and messages, then (since the AMQP front end) every vhost's exchange table,
// which a reader from before ignores: rolling back one version keeps every queue and message.
constexpr uint8_t kSnapshotVersion = 1;
constexpr size_t kMaxMovesPerCheckpoint = 1000;
// Compaction starts once the oldest live segment is this many segments behind the tail.
constexpr uint64_t kCompactionLagSegments = 2;

void encode_entry(ByteWriter& writer, const MessageEntry& entry) {
  writer.u64(entry.key);
  writer.u64(entry.segment_id);
  writer.u32(entry.offset);
  writer.u32(entry.record_bytes);
  writer.u32(entry.body_bytes);
  writer.u32(entry.delivery_count);
  writer.u8(entry.priority);
  writer.u8(entry.flags);
  writer.i64(entry.expires_at_ms);
  writer.i64(entry.deliver_at_ms);
}

bool decode_entry(ByteReader& reader, MessageEntry& entry) {
  return reader.u64(entry.key) && reader.u64(entry.segment_id) && reader.u32(entry.offset) &&
         reader.u32(entry.record_bytes) && reader.u32(entry.body_bytes) && reader.u32(entry.delivery_count) &&
         reader.u8(entry.priority) && reader.u8(entry.flags) && reader.i64(entry.expires_at_ms) &&
         reader.i64(entry.deliver_at_ms);
}

}  // namespace

std::string BrokerCore::encode_snapshot(bool clean) const {
  std::string out;
  ByteWriter writer(out);
  writer.u8(kSnapshotVersion);
  writer.u8(clean ? 1 : 0);
  writer.u64(next_queue_id_);
  uint32_t queue_count = 0;
  for (const auto& [queue_id, queue] : queues_) queue_count += deleting_queues_.contains(queue_id) ? 0 : 1;
  writer.u32(queue_count);
  for (const auto& [queue_id, queue] : queues_) {
    if (deleting_queues_.contains(queue_id)) continue;
    writer.str(encode(QueueCreatedRecord{queue_id, queue->vhost(), queue->name(), queue->settings()}));
    uint64_t count = 0;
    for (const auto& [key, entry] : queue->entries()) count += entry.state == EntryState::kSettling ? 0 : 1;
    writer.u64(count);
    for (const auto& [key, entry] : queue->entries()) {
      if (entry.state != EntryState::kSettling) encode_entry(writer, entry);
    }
  }
  writer.u32(static_cast<uint32_t>(exchanges_.size()));
  for (const auto& [vhost, table] : exchanges_) {
    writer.str(vhost);
    writer.str(table.encode());
  }
  writer.u32(static_cast<uint32_t>(plugin_settings_.size()));
  for (const auto& [plugin, settings] : plugin_settings_) {
    writer.str(plugin);
    writer.str(settings);
  }
  return out;
}

bool BrokerCore::load_snapshot_queue(ByteReader& reader, int64_t now_wall_ms) {
  std::string definition;
  uint64_t message_count = 0;
  if (!reader.str(definition) || !reader.u64(message_count)) return false;
  auto created = decode_queue_created(definition);
  if (!created) return false;
  auto queue = std::make_unique<Queue>(created->queue_id, created->vhost, created->name, created->settings);
  for (uint64_t m = 0; m < message_count; ++m) {
    MessageEntry entry;
    if (!decode_entry(reader, entry)) return false;
    entry.state = entry.deliver_at_ms > now_wall_ms ? EntryState::kDelayed : EntryState::kReady;
    queue->add(entry);
    track_location(entry.segment_id, +1);
  }
  queue_ids_[{created->vhost, created->name}] = created->queue_id;
  queues_[created->queue_id] = std::move(queue);
  return true;
}

void BrokerCore::load_snapshot(std::span<const std::byte> snapshot) {
  ByteReader reader(snapshot);
  uint8_t version = 0, clean = 0;
  uint32_t queue_count = 0;
  bool ok = reader.u8(version) && version == kSnapshotVersion && reader.u8(clean) &&
            reader.u64(next_queue_id_) && reader.u32(queue_count);
  const int64_t now = clock_->wall_ms();
  for (uint32_t q = 0; ok && q < queue_count; ++q) ok = load_snapshot_queue(reader, now);
  uint32_t vhost_count = 0;
  if (ok && reader.remaining() > 0) ok = reader.u32(vhost_count);
  for (uint32_t v = 0; ok && v < vhost_count; ++v) {
    std::string vhost, table;
    ok = reader.str(vhost) && reader.str(table) && exchanges_of(vhost).decode(table, true);
  }
  uint32_t plugin_count = 0;
  if (ok && reader.remaining() > 0) ok = reader.u32(plugin_count);
  for (uint32_t p = 0; ok && p < plugin_count; ++p) {
    std::string plugin, settings;
    ok = reader.str(plugin) && reader.str(settings);
    if (ok) set_plugin_settings(plugin, std::move(settings));
  }
  snapshot_was_clean_ = ok && clean == 1;
  if (!ok) {
    record_problem(ErrorCode::kStorageCorrupt,
                   "the checkpoint's index snapshot does not parse; queues and messages it held "
                   "are missing from this start",
                   "stop ballastd, keep a copy of the data directory, and report it; restoring "
                   "from a backup brings the missing queues back");
  }
}

void BrokerCore::apply_group(std::span<const storage::ReplayedRecord> group) {
  for (const auto& record : group) apply_record(record);
}

void BrokerCore::apply_record(const storage::ReplayedRecord& record) {
  const std::string_view payload(reinterpret_cast<const char*>(record.payload.data()), record.payload.size());
  const auto queue_by_id = [this](uint64_t queue_id) -> Queue* {
    auto found = queues_.find(queue_id);
    return found == queues_.end() ? nullptr : found->second.get();
  };
  Status status = ok_status();
  switch (static_cast<RecordType>(record.type)) {
    case RecordType::kQueueCreated: {
      auto created = decode_queue_created(payload);
      if (!created) {
        status = std::move(created).error();
        break;
      }
      queues_[created->queue_id] =
          std::make_unique<Queue>(created->queue_id, created->vhost, created->name, created->settings);
      queue_ids_[{created->vhost, created->name}] = created->queue_id;
      next_queue_id_ = std::max(next_queue_id_, created->queue_id + 1);
      break;
    }
    case RecordType::kQueueChanged: {
      auto changed = decode_queue_changed(payload);
      if (!changed) {
        status = std::move(changed).error();
        break;
      }
      if (Queue* queue = queue_by_id(changed->queue_id)) queue->set_settings(changed->settings);
      break;
    }
    case RecordType::kQueueDeleted: {
      auto deleted = decode_queue_deleted(payload);
      if (!deleted) {
        status = std::move(deleted).error();
        break;
      }
      if (Queue* queue = queue_by_id(deleted->queue_id)) {
        for (const auto& [key, entry] : queue->entries()) track_location(entry.segment_id, -1);
        queue_ids_.erase({queue->vhost(), queue->name()});
        queues_.erase(deleted->queue_id);
      }
      break;
    }
    case RecordType::kMessageAppended: {
      auto appended = decode_message_appended(payload);
      if (!appended) {
        status = std::move(appended).error();
        break;
      }
      Queue* queue = queue_by_id(appended->queue_id);
      if (queue == nullptr) break;
      MessageEntry entry;
      entry.key = record.seq;
      entry.segment_id = record.location.segment_id;
      entry.offset = record.location.offset;
      entry.record_bytes = record.location.bytes;
      entry.body_bytes = static_cast<uint32_t>(appended->body.size());
      entry.delivery_count = appended->delivery_count;
      entry.expires_at_ms = appended->expires_at_ms;
      entry.deliver_at_ms = appended->deliver_at_ms;
      entry.priority = appended->priority;
      entry.state = appended->deliver_at_ms > clock_->wall_ms() ? EntryState::kDelayed : EntryState::kReady;
      queue->add(entry);
      track_location(entry.segment_id, +1);
      queue->remember_id(appended->message_id, appended->published_at_ms);
      break;
    }
    case RecordType::kMessageSettled: {
      auto settled = decode_message_settled(payload);
      if (!settled) {
        status = std::move(settled).error();
        break;
      }
      Queue* queue = queue_by_id(settled->queue_id);
      const MessageEntry* entry = queue != nullptr ? queue->find(settled->message_key) : nullptr;
      if (entry == nullptr) break;
      track_location(entry->segment_id, -1);
      queue->remove(settled->message_key);
      break;
    }
    case RecordType::kMessageReturned: {
      auto returned = decode_message_returned(payload);
      if (!returned) {
        status = std::move(returned).error();
        break;
      }
      Queue* queue = queue_by_id(returned->queue_id);
      MessageEntry* entry = queue != nullptr ? queue->find(returned->message_key) : nullptr;
      if (entry != nullptr) entry->delivery_count = returned->delivery_count;
      break;
    }
    case RecordType::kMessageMoved: {
      auto moved = decode_message_moved(payload);
      if (!moved) {
        status = std::move(moved).error();
        break;
      }
      Queue* queue = queue_by_id(moved->message.queue_id);
      MessageEntry* entry = queue != nullptr ? queue->find(moved->old_key) : nullptr;
      if (entry == nullptr) break;
      track_location(entry->segment_id, -1);
      entry->segment_id = record.location.segment_id;
      entry->offset = record.location.offset;
      entry->record_bytes = record.location.bytes;
      entry->flags |= kEntryMoved;
      track_location(entry->segment_id, +1);
      break;
    }
    case RecordType::kExchangesChanged: {
      ByteReader reader(payload);
      std::string vhost, table;
      if (!reader.str(vhost) || !reader.str(table) || !exchanges_of(vhost).decode(table, true)) {
        status = Error(ErrorCode::kStorageCorrupt, "an exchanges-changed record does not parse",
                       "run 'ballast doctor'; the vhost's exchanges and bindings may be missing");
      }
      break;
    }
    case RecordType::kPluginSettings:
      status = apply_plugin_settings_record(payload);
      break;
    default:
      if ((record.flags & storage::kRecordIgnorable) == 0) {
        status = Error(ErrorCode::kStorageCorrupt,
                       fmt::format("journal record {} has type {}, unknown to this version and not "
                                   "marked ignorable",
                                   record.seq, record.type),
                       "run the ballastd version that wrote it");
      }
      break;
  }
  if (!status) {
    record_problem(status.error().code(),
                   fmt::format("record {} (segment {} offset {}): {}", record.seq, record.location.segment_id,
                               record.location.offset, status.error().message()),
                   status.error().fix());
  }
}

void BrokerCore::after_recovery(const storage::RecoveryReport& report) {
  for (const std::string& problem : report.problems) {
    recovery_problems_.push_back(DegradedPart{"storage", ErrorCode::kStorageCorrupt, problem});
  }
  for (const storage::CorruptRange& range : report.corrupt) {
    std::set<std::string> affected;
    const std::string where = fmt::format("message in the damaged range of segment {} (offsets {} to {})",
                                          range.segment_id, range.first_offset, range.end_offset);
    for (const auto& [queue_id, queue] : queues_) {
      for (const auto& [key, entry] : queue->entries()) {
        if (entry.segment_id == range.segment_id && entry.offset >= range.first_offset &&
            entry.offset < range.end_offset) {
          affected.insert(queue->name());
          damaged_queues_.note(queue->vhost(), queue->name(), ErrorCode::kStorageCorrupt, key, where);
        }
      }
    }
    if (affected.empty()) continue;
    record_problem(ErrorCode::kStorageCorrupt,
                   fmt::format("queues with messages in the damaged range of segment {}: {}",
                               range.segment_id, fmt::join(affected, ", ")),
                   "those messages cannot be delivered; the rest of each queue is served");
  }
  const bool clean = snapshot_was_clean_ && report.records_replayed == 0;
  uint64_t messages = 0;
  for (auto& [queue_id, queue] : queues_) {
    messages += queue->entries().size();
    if (clean) continue;
    for (const auto& [key, entry] : queue->entries()) {
      if (MessageEntry* stored = queue->find(key)) stored->flags |= kEntryMaybeDelivered;
    }
  }
  log::event(log::Level::kInfo, "broker.recovered",
             {log::kv("queues", queues_.size()), log::kv("messages", messages),
              log::kv("records_replayed", report.records_replayed), log::kv("clean_stop", clean),
              log::kv("problems", recovery_problems_.size())});
  refresh_health();
}

void BrokerCore::write_checkpoint(bool clean, storage::CommitCallback written) {
  if (auto error = journal_->sticky_error()) {
    if (written) written(std::move(*error));
    return;
  }
  std::set<uint64_t> live;
  for (const auto& [segment_id, count] : live_per_segment_) live.insert(segment_id);
  journal_->checkpoint(encode_snapshot(clean), std::move(live), std::move(written));
}

void BrokerCore::checkpoint_now(Callback<void> done) {
  on_loop(done, [this, done] {
    auto write = [this, done](Status compacted) {
      if (!compacted) return done(std::move(compacted));
      write_checkpoint(false, [this, done](Status written) {
        const bool posted = loop_.post([done, written]() mutable { done(std::move(written)); });
        if (!posted) done(shutting_down_error());
      });
    };
    if (!compact_oldest_segment(write)) write(ok_status());
  });
}

bool BrokerCore::compact_oldest_segment(std::function<void(Status)> finished) {
  if (live_per_segment_.empty() || journal_->sticky_error()) return false;
  const uint64_t oldest = live_per_segment_.begin()->first;
  if (oldest + kCompactionLagSegments > journal_->tail_segment()) return false;
  CommitPlan plan;
  for (auto& [queue_id, queue] : queues_) {
    if (deleting_queues_.contains(queue_id)) continue;
    for (const auto& [key, entry] : queue->entries()) {
      if (plan.records.size() >= kMaxMovesPerCheckpoint) break;
      if (entry.segment_id != oldest || entry.state == EntryState::kSettling ||
          entry.state == EntryState::kPending) {
        continue;
      }
      auto record = read_message(entry);
      if (!record) continue;
      record->delivery_count = entry.delivery_count;
      const uint64_t id = queue_id;
      const uint64_t moved_key = key;
      auto location = std::make_shared<storage::RecordLocation>();
      plan.add({static_cast<uint16_t>(RecordType::kMessageMoved), false,
                encode(MessageMovedRecord{key, std::move(*record)})},
               [location](const storage::AppendedRecord& appended) { *location = appended.location; });
      plan.on_durable.push_back([this, id, moved_key, location] {
        auto found = queues_.find(id);
        MessageEntry* moved = found != queues_.end() ? found->second->find(moved_key) : nullptr;
        if (moved == nullptr || moved->state == EntryState::kSettling) return;
        track_location(moved->segment_id, -1);
        moved->segment_id = location->segment_id;
        moved->offset = location->offset;
        moved->record_bytes = location->bytes;
        moved->flags |= kEntryMoved;
        track_location(moved->segment_id, +1);
      });
    }
  }
  if (plan.empty()) return false;
  log::event(log::Level::kInfo, "storage.compaction",
             {log::kv("segment", oldest), log::kv("moved", plan.records.size())});
  auto status = submit(std::move(plan), finished);
  if (!status) finished(std::move(status));
  return true;
}

}  // namespace ballast::broker

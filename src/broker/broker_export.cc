// BrokerCore: handing a recovered broker's contents to a ContentSink (for salvage).
#include <algorithm>

#include "broker/broker_core.h"
#include "util/check.h"

namespace ballast::broker {

void BrokerCore::export_contents(ContentSink& sink) {
  BALLAST_CHECK(!running_, "export_contents() runs before run(), on the opening thread");
  for (const auto& [queue_id, queue] : queues_) {
    const QueueCreatedRecord definition{queue_id, queue->vhost(), queue->name(), queue->settings()};
    sink.queue(definition);
    std::vector<uint64_t> keys;
    keys.reserve(queue->entries().size());
    for (const auto& [key, entry] : queue->entries()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());  // publish order
    for (uint64_t key : keys) {
      const MessageEntry& entry = queue->entries().at(key);
      auto record = read_message(entry);
      if (!record) {
        sink.unreadable(definition, {entry.segment_id, entry.offset, entry.record_bytes}, record.error());
        continue;
      }
      record->queue_id = queue_id;
      record->delivery_count = entry.delivery_count;
      sink.message(std::move(*record));
    }
  }
  for (const auto& [vhost, table] : exchanges_) sink.exchanges(vhost, table.encode());
  for (const auto& [plugin, settings] : plugin_settings_) sink.plugin_settings(plugin, settings);
}

}  // namespace ballast::broker

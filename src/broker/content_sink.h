#pragma once
// Where BrokerCore::export_contents() hands a recovered broker's contents: every queue, every
// vhost's exchange table, every plug-in's run-time settings and every message, as the journal records that
// would recreate them. Used by salvage (journal_salvage.h) to copy what is readable into a fresh journal. Not
// thread-safe: called on the thread that calls export_contents().

#include <cstdint>
#include <string>

#include "broker/journal_records.h"
#include "storage/journal.h"
#include "util/result.h"

namespace ballast::broker {

class ContentSink {
 public:
  virtual ~ContentSink() = default;
  // Every queue, before any of its messages.
  virtual void queue(const QueueCreatedRecord& definition) = 0;
  // Every vhost's whole exchange table (ExchangeTable::encode()).
  virtual void exchanges(const std::string& vhost, const std::string& encoded_table) = 0;
  // Every plug-in's run-time settings (Broker::store_plugin_settings).
  virtual void plugin_settings(const std::string& plugin, const std::string& settings) = 0;
  // Every readable message of a queue, oldest first; `message.queue_id` names its queue and
  // `message.delivery_count` is the count recovered, not the one first written.
  virtual void message(MessageAppendedRecord message) = 0;
  // A message whose record no longer reads (it lies in a damaged range): `error` says why.
  virtual void unreadable(const QueueCreatedRecord& queue, const storage::RecordLocation& where,
                          const Error& error) = 0;
};

}  // namespace ballast::broker

// BrokerCore: trigger work items (docs/plugins.md, "Triggers"; broker/store_triggers.h). Every
// message stored in a queue with triggers attached brings, in the same commit, one work item
// per trigger into "ballast.trigger.<plugin>": the message and its work commit together or not
// at all, so a stored message's trigger work is never lost. Broker thread only.
#include "broker/broker_core.h"
#include "util/log.h"

namespace ballast::broker {

void BrokerCore::set_store_triggers(StoreTriggers* triggers) {
  BALLAST_CHECK(!running_, "set_store_triggers after run()");
  store_triggers_ = triggers;
}

void BrokerCore::plan_trigger_work(CommitPlan& plan, const Queue& queue,
                                   const MessageAppendedRecord& record) {
  // The broker's own queues have no triggers (and work items must not bring more work).
  if (queue.name().starts_with("ballast.")) return;
  const std::vector<std::string> plugins = store_triggers_->triggers(queue.vhost(), queue.name());
  if (plugins.empty()) return;
  Result<MessageProperties> properties = decode_properties(record.properties);
  if (!properties) {
    // Only a record this broker just encoded gets here: a bug, not an input.
    BALLAST_CHECK(false, "a message for queue {} has undecodable properties: {}", queue.name(),
                  properties.error().message());
  }
  properties->headers.emplace_back(kTriggerVhostHeader, queue.vhost());
  properties->headers.emplace_back(kTriggerQueueHeader, queue.name());
  const MessageAppendedRecord work = reissued_record(record, *properties);
  const auto body_bytes = static_cast<uint32_t>(work.body.size());
  for (const std::string& plugin : plugins) {
    Queue& work_queue =
        queue_or_create(queue.vhost(), fmt::format("{}{}", kTriggerQueuePrefix, plugin), plan);
    plan_append(plan, work_queue, work, body_bytes);
  }
}

}  // namespace ballast::broker

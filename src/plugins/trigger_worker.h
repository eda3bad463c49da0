#pragma once
// Runs one trigger plug-in's work (docs/plugins.md, "Triggers"): consumes its hidden durable
// queue "ballast.trigger.<plugin>" of vhost "/" through the Broker, calls the plug-in once per
// work item (through its PluginSupervisor, with the call's deadline) and settles the item by
// the outcome:
//   done                       -> acked (plugin.trigger_done)
//   retry, too slow, plug-in died mid-call
//                              -> kept, then returned to the queue after a back-off of
//                                 retry.initial_ms doubling to retry.max_ms (plugin.trigger_retry);
//                                 at the retry.max_attempts-th attempt, dead-lettered instead
//   failed                     -> dead-lettered at once with the plug-in's reason
//                                 (plugin.trigger_dead_lettered code=PLUGIN_REJECTED; when the
//                                 attempts run out, code=PLUGIN_UNAVAILABLE)
// A dead-lettered item goes to the vhost's ballast.dead-letter with x-death-reason naming the
// plug-in, the attempts and the last reason (plugin.trigger_dead_lettered): nothing is dropped.
// The attempt number is the work item's delivery count, so it survives a restart.
// While the plug-in is down, items taken are kept without calling it (no attempt is spent) and
// no more are taken. At most retry.concurrency items are in hand at once.
//
// Threading: confined to the host's io_context thread, except counters(). The broker's callbacks
// come back through `gate`. The supervisor and the broker must outlive the worker; the broker's
// late callbacks only touch `gate`'s shared state.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "plugins/asio.h"
#include "plugins/plugin_control.h"
#include "plugins/plugin_supervisor.h"
#include "plugins/post_gate.h"
#include "util/error_code.h"

namespace ballast::plugins {

class TriggerWorker {
 public:
  TriggerWorker(boost::asio::io_context& io, PluginSupervisor& supervisor, broker::Broker& broker,
                std::shared_ptr<PostGate> gate);
  ~TriggerWorker();
  TriggerWorker(const TriggerWorker&) = delete;
  TriggerWorker& operator=(const TriggerWorker&) = delete;

  // Starts taking work. Once.
  void start();
  // Takes no more work: ends the long poll and returns the items waiting for a retry or for the
  // plug-in to the queue (best effort: the broker may be stopping too; they are taken again
  // after a restart in any case). Items in a call come back when the supervisor stops.
  void stop();

  const std::string& queue_name() const { return queue_name_; }
  // Thread-safe.
  TriggerCounters counters() const;

 private:
  struct Item {
    broker::LeaseRef lease;
    TriggerWork work;
    std::unique_ptr<boost::asio::steady_timer> retry_timer;
    bool calling = false;
  };

  void schedule_tick();
  void pump();
  void take_more();
  void on_taken(Result<std::vector<broker::DeliveredMessage>> taken);
  void call(uint64_t key);
  void on_outcome(uint64_t key, TriggerOutcome outcome);
  void retry_later(uint64_t key, const std::string& reason);
  void settle_done(uint64_t key);
  // `code`: PLUGIN_REJECTED when the plug-in answered failed, PLUGIN_UNAVAILABLE when its
  // attempts ran out (retry answers, missed deadlines, deaths during the call).
  void dead_letter(uint64_t key, ErrorCode code, std::string reason);
  void give_back(uint64_t key);
  // Removes the item and hands its lease to `settle` (a Broker call).
  broker::LeaseRef release(uint64_t key);
  broker::Callback<broker::SettleOutcome> settled(std::string what, broker::LeaseRef lease);

  boost::asio::io_context& io_;
  PluginSupervisor& supervisor_;
  broker::Broker& broker_;
  std::shared_ptr<PostGate> gate_;
  const std::string name_;
  const std::string queue_name_;
  const uint64_t waiter_id_;
  boost::asio::steady_timer tick_timer_;
  std::map<uint64_t, Item> items_;  // by lease key
  bool polling_ = false;
  bool stopping_ = false;

  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> dead_lettered_{0};
  std::atomic<uint64_t> in_hand_{0};
};

}  // namespace ballast::plugins

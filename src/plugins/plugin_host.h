#pragma once
// The plug-in host: the broker's PublishFilter (broker/publish_filter.h) implemented by
// out-of-process, supervised filter plug-ins, and its StoreTriggers (broker/store_triggers.h)
// for trigger plug-ins (docs/plugins.md). It owns one thread running an Asio io_context, one
// PluginSupervisor per configured plug-in on it, and one TriggerWorker per trigger plug-in.
//
// Threading: filters(), filters_any(), available() and filter() are thread-safe and never block
// on the host's thread: the attachments are an immutable snapshot taken under a small mutex
// (held only to copy a pointer) and a plug-in's readiness is an atomic. filter()'s `done` runs
// on the host's thread, or on the caller's thread once the host has stopped (or at once for an
// empty batch). triggers_any() and triggers() read a snapshot too; trigger_counters() reads
// atomics. start(), run_triggers() and stop() are called by the owner (ballastd's main thread).
//
// Lifetime: stop() (also run by the destructor) answers every pending call with the policy's
// verdict and stops every plug-in process (SIGTERM, SIGKILL after 2 s) before it returns. The
// broker must not call filter() after the host is destroyed.
// Precondition of start(): SIGPIPE is ignored in the process (ballastd does so), since writes
// to a plug-in that died would otherwise raise it.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/publish_filter.h"
#include "plugins/asio.h"
#include "plugins/plugin_config.h"
#include "plugins/plugin_supervisor.h"
#include "plugins/post_gate.h"
#include "plugins/trigger_worker.h"
#include "util/clock.h"

namespace ballast::plugins {

class PluginHost final : public broker::PublishFilter, public broker::StoreTriggers {
 public:
  // `clock` must outlive the host.
  explicit PluginHost(const Clock& clock);
  ~PluginHost() override;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Attaches each plug-in to its queues (vhost "/"), starts the host's thread and every
  // plug-in's first process; returns without waiting for any handshake. Once only. Fails with
  // CONFIG_INVALID when a kind is not "filter" or "trigger", a name repeats, a queue has two
  // filters or a trigger is attached to a "ballast." queue (ops/ checks these first, so this is
  // the last line of defence).
  Status start(std::vector<PluginConfig> configs);
  // Starts one TriggerWorker per trigger plug-in, consuming its work queue from `broker`
  // (which must be running and outlive the host's stop()). Once, after start().
  void run_triggers(broker::Broker& broker);
  // Idempotent; see Lifetime above.
  void stop();

  bool filters(const std::string& vhost, const std::string& queue) const override;
  bool filters_any(const std::string& vhost) const override;
  bool available(const std::string& vhost, const std::string& queue) const override;
  void filter(const std::string& vhost, const std::string& queue,
              std::vector<broker::PublishRequest> messages,
              std::function<void(std::vector<broker::FilterVerdict>)> done) override;

  bool triggers_any() const override;
  std::vector<std::string> triggers(const std::string& vhost, const std::string& queue) const override;

  // Each trigger plug-in's name and counters, in configuration order.
  std::vector<std::pair<std::string, TriggerCounters>> trigger_counters() const;

 private:
  // Queue name (vhost "/") -> the supervisor of its filter. Immutable once published.
  using Attachments = std::map<std::string, PluginSupervisor*>;
  // Queue name (vhost "/") -> the names of its trigger plug-ins. Immutable once published.
  using TriggerAttachments = std::map<std::string, std::vector<std::string>>;
  Status attach(PluginSupervisor& supervisor, Attachments& filters, TriggerAttachments& triggers);

  std::shared_ptr<const Attachments> attachments() const;
  PluginSupervisor* supervisor_for(const std::string& vhost, const std::string& queue) const;
  void run_io();
  void stop_supervisors();

  const Clock& clock_;
  // Declared before the supervisors: their timers and descriptors must go first.
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::unique_ptr<PluginSupervisor>> supervisors_;
  std::shared_ptr<PostGate> gate_;
  // Created by run_triggers() before any work is posted; then only their counters are read
  // from other threads.
  std::vector<std::unique_ptr<TriggerWorker>> workers_;
  std::thread thread_;

  mutable std::mutex mu_;                           // a leaf: held only to copy or swap the fields below
  std::shared_ptr<const Attachments> attachments_;  // guarded by mu_
  std::shared_ptr<const TriggerAttachments> trigger_attachments_;  // guarded by mu_
  std::atomic<bool> triggers_any_{false};
  bool accepting_ = false;  // guarded by mu_: filter() posts to io_ only while true
  bool stopped_ = false;    // guarded by mu_
};

}  // namespace ballast::plugins

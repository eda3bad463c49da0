#pragma once
// The plug-in host: the broker's PublishFilter (broker/publish_filter.h) implemented by
// out-of-process, supervised filter plug-ins, its StoreTriggers (broker/store_triggers.h) for
// trigger plug-ins, and the PluginControl (plugins/plugin_control.h) the API and CLI use to
// attach, detach, reload, disable and enable them at run time (docs/plugins.md). It owns one
// thread running an Asio io_context, one PluginSupervisor per configured plug-in on it, and one
// TriggerWorker per trigger plug-in. Run-time changes are journalled through the Broker
// (store_plugin_settings) before they take effect, one at a time.
//
// Threading: filters(), filters_any(), available(), filter(), triggers_any(), triggers() and
// list() are thread-safe and never block on the host's thread: the attachments are an
// immutable snapshot taken under a small mutex (held only to copy or swap a pointer) and a
// plug-in's readiness and state are read from its supervisor's thread-safe accessors.
// filter()'s `done` runs on the host's thread, or on the caller's thread once the host has
// stopped (or at once for an empty batch). The PluginControl changes are posted to the host's
// thread; their `done` runs there, or with SHUTTING_DOWN on whichever thread drops them once
// the host stops. start(), run() and stop() are called by the owner (ballastd's main thread).
//
// Lifetime: stop() (also run by the destructor) answers every pending call with the policy's
// verdict and stops every plug-in process (SIGTERM, SIGKILL after 2 s) before it returns. The
// broker must not call filter() after the host is destroyed.
// Precondition of start(): SIGPIPE is ignored in the process (ballastd does so), since writes
// to a plug-in that died would otherwise raise it.

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/publish_filter.h"
#include "plugins/asio.h"
#include "plugins/plugin_config.h"
#include "plugins/plugin_control.h"
#include "plugins/plugin_overlay.h"
#include "plugins/plugin_supervisor.h"
#include "plugins/post_gate.h"
#include "plugins/trigger_worker.h"
#include "util/clock.h"

namespace ballast::plugins {

class PluginHost final : public broker::PublishFilter, public broker::StoreTriggers, public PluginControl {
 public:
  // `clock` must outlive the host.
  explicit PluginHost(const Clock& clock);
  ~PluginHost() override;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Attaches each plug-in to its queues (vhost "/") as its [[plugins]] table and its stored
  // run-time settings (`runtime_settings`, by name: Broker::recovered_plugin_settings) say,
  // starts the host's thread and every enabled plug-in's first process; returns without waiting
  // for any handshake. Once only. Fails with CONFIG_INVALID when a kind is not "filter" or
  // "trigger", a name repeats, a queue has two filters in the file or a trigger is attached to a
  // "ballast." queue (ops/ checks these first, so this is the last line of defence). Stored
  // settings that do not parse, name no configured plug-in or conflict with the file are
  // logged and set aside (the file wins), never a reason not to start.
  Status start(std::vector<PluginConfig> configs,
               const std::map<std::string, std::string>& runtime_settings = {});
  // Starts one TriggerWorker per trigger plug-in, consuming its work queue from `broker`, and
  // accepts run-time changes, journalled through `broker` (which must be running and outlive
  // the host's stop()). Once, after start().
  void run(broker::Broker& broker);
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

  std::vector<PluginView> list() const override;
  Result<PluginView> show(const std::string& plugin) const override;
  void attach(std::string plugin, std::string queue, std::string policy, ViewCallback done) override;
  void detach(std::string plugin, std::string queue, ViewCallback done) override;
  void reload(std::string plugin, ViewCallback done) override;
  void disable(std::string plugin, ViewCallback done) override;
  void enable(std::string plugin, ViewCallback done) override;

 private:
  struct FilterAttachment {
    PluginSupervisor* supervisor = nullptr;
    FilterPolicy policy = FilterPolicy::kHold;
  };
  // Who is attached where, as the broker's thread reads it. Immutable once published.
  struct Attachments {
    std::map<std::string, FilterAttachment> filters;           // queue -> its filter
    std::map<std::string, std::vector<std::string>> triggers;  // queue -> its triggers' names
    std::map<std::string, std::vector<Attachment>> by_plugin;  // plug-in -> its attachments
  };
  // One configured plug-in. The vector of them is fixed by start(); `overlay` changes only on
  // the host's thread; `worker` is set by run(), before the API starts.
  struct Plugin {
    std::unique_ptr<PluginSupervisor> supervisor;
    PluginOverlay overlay;
    TriggerWorker* worker = nullptr;
  };
  class PendingReply;
  using Change = std::function<Result<PluginOverlay>(const Plugin&)>;

  // Builds the attachments of every plug-in from the files and the overlays. Two filters on a
  // queue in the files are CONFIG_INVALID; a run-time attachment that conflicts is logged and
  // left out (the run-time changes check for conflicts before they are stored).
  enum class Skipped { kLog, kQuiet };  // at start-up; on a run-time change (logged at start-up)
  Result<std::shared_ptr<const Attachments>> build_attachments(Skipped skipped) const;
  static void log_skipped(const std::string& plugin, const std::string& queue, const Error& conflict);
  void publish(std::shared_ptr<const Attachments> attachments);
  std::shared_ptr<const Attachments> attachments() const;
  std::optional<FilterAttachment> filter_of(const std::string& vhost, const std::string& queue) const;
  Status add_attachment(Attachments& attachments, const Plugin& plugin, Attachment attachment) const;
  Plugin* find_plugin(const std::string& name);
  Error unknown_plugin(const std::string& name) const;
  PluginView view_of(const Plugin& plugin, const Attachments& attachments) const;

  // Run-time changes (on the host's thread, one at a time). Each reply is answered once; stop()
  // answers those still outstanding with SHUTTING_DOWN.
  std::shared_ptr<PendingReply> pending_reply(ViewCallback done);
  void answer_outstanding();
  void set_disabled(std::string plugin, bool disabled, ViewCallback done);
  void post_change(std::string plugin, std::shared_ptr<PendingReply> reply, std::function<void()> change);
  // Runs `change` on the plug-in, journals the overlay it gives, applies it, then `announce`s it.
  void change_overlay(std::string plugin, std::shared_ptr<PendingReply> reply, Change change,
                      std::function<void()> announce);
  void apply_overlay(Plugin& plugin, PluginOverlay overlay, std::shared_ptr<const Attachments> attachments);
  void finish_change();
  void run_io();
  void stop_supervisors();

  const Clock& clock_;
  // Declared before the supervisors: their timers and descriptors must go first.
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<Plugin> plugins_;
  std::shared_ptr<PostGate> gate_;
  // Created by run() before any work is posted; then only their counters are read from other threads.
  std::vector<std::unique_ptr<TriggerWorker>> workers_;
  broker::Broker* broker_ = nullptr;  // set by run()
  std::thread thread_;
  std::deque<std::function<void()>> changes_;  // host thread: waiting run-time changes
  bool changing_ = false;                      // host thread: one is under way

  mutable std::mutex mu_;                           // a leaf: held only to copy or swap the fields below
  std::shared_ptr<const Attachments> attachments_;  // guarded by mu_
  std::vector<std::weak_ptr<PendingReply>> outstanding_;  // guarded by mu_
  std::atomic<bool> triggers_any_{false};
  std::atomic<bool> running_{false};  // run() done and not stopped: changes are accepted
  bool accepting_ = false;            // guarded by mu_: filter() posts to io_ only while true
  bool stopped_ = false;              // guarded by mu_
};

}  // namespace ballast::plugins

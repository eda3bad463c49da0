#include "plugins/plugin_host.h"

#include <signal.h>

#include <fmt/format.h>

#include <exception>
#include <set>

#include "plugins/policy_verdict.h"
#include "util/log.h"

namespace ballast::plugins {

namespace {

constexpr std::string_view kBrokerVersion = "ballast " BALLAST_VERSION;
constexpr std::string_view kRootVhost = "/";

bool sigpipe_ignored() {
  struct sigaction current {};
  return sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
}

Error config_error(std::string message, std::string fix) {
  return Error(ErrorCode::kConfigInvalid, std::move(message), std::move(fix));
}

// Every message of a batch answered once; the batch's `done` runs when the last one is.
struct Batch {
  std::vector<broker::FilterVerdict> verdicts;
  size_t remaining = 0;
  std::function<void(std::vector<broker::FilterVerdict>)> done;
};

// The stored run-time settings of `name`; none when absent or unreadable (then logged).
PluginOverlay stored_overlay(const std::string& name, const std::map<std::string, std::string>& settings) {
  auto found = settings.find(name);
  if (found == settings.end()) return {};
  auto overlay = decode_overlay(name, found->second);
  if (overlay) return *overlay;
  log::event(log::Level::kError, "plugin.settings_unreadable",
             {log::kv("plugin", name), log::kv("code", overlay.error().code_name()),
              log::kv("cause", overlay.error().message()), log::kv("fix", overlay.error().fix())});
  return {};
}

}  // namespace

PluginHost::PluginHost(const Clock& clock) : clock_(clock), work_(boost::asio::make_work_guard(io_)) {}

PluginHost::~PluginHost() {
  stop();
}

Status PluginHost::start(std::vector<PluginConfig> configs,
                         const std::map<std::string, std::string>& runtime_settings) {
  BALLAST_CHECK(sigpipe_ignored(), "PluginHost::start needs SIGPIPE ignored");
  BALLAST_CHECK(plugins_.empty() && !thread_.joinable(), "PluginHost::start called twice");
  std::set<std::string> names;
  for (PluginConfig& config : configs) {
    if (config.kind != kFilterKind && config.kind != kTriggerKind) {
      return config_error(fmt::format("plug-in \"{}\" has kind = \"{}\"", config.name, config.kind),
                          "set kind = \"filter\" or kind = \"trigger\" in its [[plugins]] table");
    }
    if (!names.insert(config.name).second) {
      return config_error(fmt::format("two [[plugins]] tables have name = \"{}\"", config.name),
                          "give each plug-in its own name");
    }
    Plugin plugin;
    plugin.overlay = stored_overlay(config.name, runtime_settings);
    plugin.supervisor =
        std::make_unique<PluginSupervisor>(io_, std::move(config), clock_, std::string(kBrokerVersion));
    plugins_.push_back(std::move(plugin));
  }
  for (const auto& [name, settings] : runtime_settings) {
    if (names.contains(name)) continue;
    log::event(
        log::Level::kWarn, "plugin.settings_unused",
        {log::kv("plugin", name),
         log::kv("cause", "the journal holds run-time settings for a plug-in with no [[plugins]] table"),
         log::kv("fix",
                 "they apply again if a [[plugins]] table with this name comes back; nothing to do "
                 "otherwise")});
  }
  auto attachments = build_attachments(Skipped::kLog);
  if (!attachments) return std::move(attachments).error();
  {
    std::lock_guard lock(mu_);
    accepting_ = true;
  }
  publish(std::move(*attachments));
  gate_ = std::make_shared<PostGate>(io_);
  for (Plugin& plugin : plugins_) {
    PluginSupervisor* supervisor = plugin.supervisor.get();
    const bool disabled = plugin.overlay.disabled;
    boost::asio::post(io_, [supervisor, disabled] { supervisor->start(disabled); });
  }
  thread_ = std::thread([this] { run_io(); });
  return ok_status();
}

Result<std::shared_ptr<const PluginHost::Attachments>> PluginHost::build_attachments(Skipped skipped) const {
  auto built = std::make_shared<Attachments>();
  // The file's attachments first: a conflict among them is a configuration error.
  for (const bool runtime : {false, true}) {
    for (const Plugin& plugin : plugins_) {
      for (Attachment& attachment : effective_attachments(plugin.supervisor->config(), plugin.overlay)) {
        if (attachment.from_runtime != runtime) continue;
        const std::string queue = attachment.queue;
        auto added = add_attachment(*built, plugin, std::move(attachment));
        if (added) continue;
        if (!runtime) return added.error();
        if (skipped == Skipped::kLog) log_skipped(plugin.supervisor->config().name, queue, added.error());
      }
    }
  }
  return std::shared_ptr<const Attachments>(std::move(built));
}

void PluginHost::log_skipped(const std::string& plugin, const std::string& queue, const Error& conflict) {
  log::event(log::Level::kError, "plugin.attachment_skipped",
             {log::kv("plugin", plugin), log::kv("queue", queue), log::kv("code", "CONFIG_INVALID"),
              log::kv("cause", conflict.message()),
              log::kv("fix", fmt::format("'ballast plugin detach {} --queue {}', or change the [[plugins]] "
                                         "tables so that the queue has one filter",
                                         plugin, queue))});
}

Status PluginHost::add_attachment(Attachments& attachments, const Plugin& plugin,
                                  Attachment attachment) const {
  const PluginConfig& config = plugin.supervisor->config();
  if (attachment.queue.starts_with("ballast.")) {
    return config_error(fmt::format("plug-in \"{}\" is attached to queue \"{}\", one of the broker's own",
                                    config.name, attachment.queue),
                        "attach plug-ins to your own queues only (names not starting with \"ballast.\")");
  }
  if (config.kind == kTriggerKind) {
    attachments.triggers[attachment.queue].push_back(config.name);
  } else {
    auto [existing, inserted] = attachments.filters.emplace(
        attachment.queue, FilterAttachment{plugin.supervisor.get(), attachment.policy});
    if (!inserted) {
      return config_error(
          fmt::format("queue \"{}\" is attached to filters \"{}\" and \"{}\"", attachment.queue,
                      existing->second.supervisor->config().name, config.name),
          "attach a queue to one filter only: remove it from the queues of one of them");
    }
  }
  attachments.by_plugin[config.name].push_back(std::move(attachment));
  return ok_status();
}

void PluginHost::publish(std::shared_ptr<const Attachments> attachments) {
  std::lock_guard lock(mu_);
  triggers_any_.store(!attachments->triggers.empty());
  attachments_ = std::move(attachments);
}

void PluginHost::run(broker::Broker& broker) {
  BALLAST_CHECK(gate_ != nullptr && broker_ == nullptr, "PluginHost::run before start() or twice");
  broker_ = &broker;
  for (Plugin& plugin : plugins_) {
    if (plugin.supervisor->config().kind != kTriggerKind) continue;
    workers_.push_back(std::make_unique<TriggerWorker>(io_, *plugin.supervisor, broker, gate_));
    plugin.worker = workers_.back().get();
  }
  for (auto& worker : workers_) {
    boost::asio::post(io_, [raw = worker.get()] { raw->start(); });
  }
  running_.store(true);
}

void PluginHost::run_io() {
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& error) {  // a library call threw: log it, keep supervising
      log::event(log::Level::kError, "plugin.host_error",
                 {log::kv("message", error.what()),
                  log::kv("fix", "report this as a bug with the events before it; the host keeps running")});
    }
  }
}

void PluginHost::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    accepting_ = false;
  }
  running_.store(false);
  if (!thread_.joinable()) return;
  // Posted after every filter() that was accepted, so their calls are answered first.
  boost::asio::post(io_, [this] { stop_supervisors(); });
  thread_.join();
  if (gate_) gate_->close();
  answer_outstanding();
}

void PluginHost::stop_supervisors() {
  // Workers first: what they give back goes to the broker, and the calls in flight that the
  // supervisors then answer are given back too.
  for (auto& worker : workers_) worker->stop();
  auto remaining = std::make_shared<size_t>(plugins_.size());
  if (*remaining == 0) return io_.stop();
  for (Plugin& plugin : plugins_) {
    plugin.supervisor->stop([this, remaining] {
      if (--*remaining == 0) io_.stop();
    });
  }
}

std::shared_ptr<const PluginHost::Attachments> PluginHost::attachments() const {
  std::lock_guard lock(mu_);
  return attachments_;
}

std::optional<PluginHost::FilterAttachment> PluginHost::filter_of(const std::string& vhost,
                                                                  const std::string& queue) const {
  if (vhost != kRootVhost) return std::nullopt;
  const auto snapshot = attachments();
  if (!snapshot) return std::nullopt;
  auto found = snapshot->filters.find(queue);
  // A copy: the supervisor it points to lives as long as the host, the snapshot may not.
  if (found == snapshot->filters.end()) return std::nullopt;
  return found->second;
}

bool PluginHost::triggers_any() const {
  return triggers_any_.load(std::memory_order_acquire);
}

std::vector<std::string> PluginHost::triggers(const std::string& vhost, const std::string& queue) const {
  if (vhost != kRootVhost) return {};
  const auto snapshot = attachments();
  if (!snapshot) return {};
  auto found = snapshot->triggers.find(queue);
  return found == snapshot->triggers.end() ? std::vector<std::string>{} : found->second;
}

bool PluginHost::filters(const std::string& vhost, const std::string& queue) const {
  return filter_of(vhost, queue).has_value();
}

bool PluginHost::filters_any(const std::string& vhost) const {
  const auto snapshot = attachments();
  return vhost == kRootVhost && snapshot && !snapshot->filters.empty();
}

bool PluginHost::available(const std::string& vhost, const std::string& queue) const {
  const auto attachment = filter_of(vhost, queue);
  return attachment && attachment->supervisor->ready();
}

void PluginHost::filter(const std::string& vhost, const std::string& queue,
                        std::vector<broker::PublishRequest> messages,
                        std::function<void(std::vector<broker::FilterVerdict>)> done) {
  const std::optional<FilterAttachment> attachment = filter_of(vhost, queue);
  if (messages.empty() || !attachment) {
    // Not filtered (the broker asked about a queue without a filter): stored as published.
    std::vector<broker::FilterVerdict> verdicts(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) verdicts[i].message = std::move(messages[i]);
    return done(std::move(verdicts));
  }
  std::unique_lock lock(mu_);
  if (!accepting_) {
    lock.unlock();
    // Stopped: the policy answers at once, on this thread.
    std::vector<broker::FilterVerdict> verdicts;
    for (auto& message : messages) {
      verdicts.push_back(policy_verdict(attachment->supervisor->config().name, attachment->policy, vhost,
                                        queue, std::move(message), "stopped: the broker is shutting down",
                                        "start the broker again"));
    }
    return done(std::move(verdicts));
  }
  auto batch = std::make_shared<Batch>();
  batch->verdicts.resize(messages.size());
  batch->remaining = messages.size();
  batch->done = std::move(done);
  // Posted under mu_, so that stop()'s post comes after it and finds the call to answer.
  boost::asio::post(
      io_, [attachment = *attachment, vhost, queue, batch, messages = std::move(messages)]() mutable {
        for (size_t i = 0; i < messages.size(); ++i) {
          attachment.supervisor->filter(vhost, queue, attachment.policy, std::move(messages[i]),
                                        [batch, i](broker::FilterVerdict verdict) {
                                          batch->verdicts[i] = std::move(verdict);
                                          if (--batch->remaining == 0)
                                            batch->done(std::move(batch->verdicts));
                                        });
        }
      });
}

}  // namespace ballast::plugins

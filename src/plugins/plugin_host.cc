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

}  // namespace

PluginHost::PluginHost(const Clock& clock) : clock_(clock), work_(boost::asio::make_work_guard(io_)) {}

PluginHost::~PluginHost() {
  stop();
}

Status PluginHost::start(std::vector<PluginConfig> configs) {
  BALLAST_CHECK(sigpipe_ignored(), "PluginHost::start needs SIGPIPE ignored");
  BALLAST_CHECK(supervisors_.empty() && !thread_.joinable(), "PluginHost::start called twice");
  auto attachments = std::make_shared<Attachments>();
  auto trigger_attachments = std::make_shared<TriggerAttachments>();
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
    supervisors_.push_back(
        std::make_unique<PluginSupervisor>(io_, std::move(config), clock_, std::string(kBrokerVersion)));
    if (auto attached = attach(*supervisors_.back(), *attachments, *trigger_attachments); !attached) {
      return attached;
    }
  }
  {
    std::lock_guard lock(mu_);
    attachments_ = std::move(attachments);
    triggers_any_.store(!trigger_attachments->empty());
    trigger_attachments_ = std::move(trigger_attachments);
    accepting_ = true;
  }
  gate_ = std::make_shared<PostGate>(io_);
  for (auto& supervisor : supervisors_) {
    boost::asio::post(io_, [raw = supervisor.get()] { raw->start(); });
  }
  thread_ = std::thread([this] { run_io(); });
  return ok_status();
}

Status PluginHost::attach(PluginSupervisor& supervisor, Attachments& filters, TriggerAttachments& triggers) {
  const PluginConfig& config = supervisor.config();
  for (const std::string& queue : config.queues) {
    if (config.kind == kTriggerKind) {
      if (queue.starts_with("ballast.")) {
        return config_error(fmt::format("trigger \"{}\" is attached to queue \"{}\", one of the broker's own",
                                        config.name, queue),
                            "attach triggers to your own queues only (names not starting with \"ballast.\")");
      }
      triggers[queue].push_back(config.name);
      continue;
    }
    auto [existing, inserted] = filters.emplace(queue, &supervisor);
    if (!inserted) {
      return config_error(fmt::format("queue \"{}\" is attached to filters \"{}\" and \"{}\"", queue,
                                      existing->second->config().name, config.name),
                          "attach a queue to one filter only: remove it from the queues of one of them");
    }
  }
  return ok_status();
}

void PluginHost::run_triggers(broker::Broker& broker) {
  BALLAST_CHECK(gate_ != nullptr && workers_.empty(), "PluginHost::run_triggers before start() or twice");
  for (auto& supervisor : supervisors_) {
    if (supervisor->config().kind != kTriggerKind) continue;
    workers_.push_back(std::make_unique<TriggerWorker>(io_, *supervisor, broker, gate_));
  }
  for (auto& worker : workers_) {
    boost::asio::post(io_, [raw = worker.get()] { raw->start(); });
  }
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
  if (!thread_.joinable()) return;
  // Posted after every filter() that was accepted, so their calls are answered first.
  boost::asio::post(io_, [this] { stop_supervisors(); });
  thread_.join();
  if (gate_) gate_->close();
}

void PluginHost::stop_supervisors() {
  // Workers first: what they give back goes to the broker, and the calls in flight that the
  // supervisors then answer are given back too.
  for (auto& worker : workers_) worker->stop();
  auto remaining = std::make_shared<size_t>(supervisors_.size());
  if (*remaining == 0) return io_.stop();
  for (auto& supervisor : supervisors_) {
    supervisor->stop([this, remaining] {
      if (--*remaining == 0) io_.stop();
    });
  }
}

std::shared_ptr<const PluginHost::Attachments> PluginHost::attachments() const {
  std::lock_guard lock(mu_);
  return attachments_;
}

PluginSupervisor* PluginHost::supervisor_for(const std::string& vhost, const std::string& queue) const {
  if (vhost != kRootVhost) return nullptr;
  const auto snapshot = attachments();
  if (!snapshot) return nullptr;
  auto found = snapshot->find(queue);
  return found == snapshot->end() ? nullptr : found->second;
}

bool PluginHost::triggers_any() const {
  return triggers_any_.load(std::memory_order_acquire);
}

std::vector<std::string> PluginHost::triggers(const std::string& vhost, const std::string& queue) const {
  if (vhost != kRootVhost) return {};
  std::shared_ptr<const TriggerAttachments> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = trigger_attachments_;
  }
  if (!snapshot) return {};
  auto found = snapshot->find(queue);
  return found == snapshot->end() ? std::vector<std::string>{} : found->second;
}

std::vector<std::pair<std::string, TriggerCounters>> PluginHost::trigger_counters() const {
  std::vector<std::pair<std::string, TriggerCounters>> counters;
  for (const auto& worker : workers_) {
    counters.emplace_back(worker->queue_name().substr(broker::kTriggerQueuePrefix.size()),
                          worker->counters());
  }
  return counters;
}

bool PluginHost::filters(const std::string& vhost, const std::string& queue) const {
  return supervisor_for(vhost, queue) != nullptr;
}

bool PluginHost::filters_any(const std::string& vhost) const {
  const auto snapshot = attachments();
  return vhost == kRootVhost && snapshot && !snapshot->empty();
}

bool PluginHost::available(const std::string& vhost, const std::string& queue) const {
  const PluginSupervisor* supervisor = supervisor_for(vhost, queue);
  return supervisor != nullptr && supervisor->ready();
}

void PluginHost::filter(const std::string& vhost, const std::string& queue,
                        std::vector<broker::PublishRequest> messages,
                        std::function<void(std::vector<broker::FilterVerdict>)> done) {
  PluginSupervisor* supervisor = supervisor_for(vhost, queue);
  if (messages.empty() || supervisor == nullptr) {
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
      verdicts.push_back(policy_verdict(supervisor->config(), vhost, queue, std::move(message),
                                        "stopped: the broker is shutting down", "start the broker again"));
    }
    return done(std::move(verdicts));
  }
  auto batch = std::make_shared<Batch>();
  batch->verdicts.resize(messages.size());
  batch->remaining = messages.size();
  batch->done = std::move(done);
  // Posted under mu_, so that stop()'s post comes after it and finds the call to answer.
  boost::asio::post(io_, [supervisor, vhost, queue, batch, messages = std::move(messages)]() mutable {
    for (size_t i = 0; i < messages.size(); ++i) {
      supervisor->filter(vhost, queue, std::move(messages[i]), [batch, i](broker::FilterVerdict verdict) {
        batch->verdicts[i] = std::move(verdict);
        if (--batch->remaining == 0) batch->done(std::move(batch->verdicts));
      });
    }
  });
}

}  // namespace ballast::plugins

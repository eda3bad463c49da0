// PluginHost: the PluginControl side (plugins/plugin_control.h): the plug-ins' views, and
// attach / detach / reload / disable / enable at run time. Changes run on the host's thread one
// at a time; those that change the attachments are journalled through the Broker first.
#include <fmt/format.h>

#include <algorithm>

#include "broker/names.h"
#include "plugins/plugin_host.h"
#include "util/log.h"
#include "util/nearest_name.h"

namespace ballast::plugins {

namespace {

constexpr std::string_view kVhost = "/";

Error shutting_down() {
  return Error(ErrorCode::kShuttingDown, "the broker is shutting down: plug-ins cannot be changed now",
               "change them after the broker has started again");
}

Status check_queue_name(const std::string& queue) {
  if (auto valid = broker::validate_name("queue", queue); !valid) return valid;
  if (queue.starts_with("ballast.")) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("queue \"{}\" is one of the broker's own", queue),
                 "attach plug-ins to your own queues only (names not starting with \"ballast.\")");
  }
  return ok_status();
}

}  // namespace

// Answers exactly once: with the change's outcome, or SHUTTING_DOWN if the change is dropped
// (the host stopped before it ran or before the journal answered).
class PluginHost::PendingReply {
 public:
  explicit PendingReply(ViewCallback done) : done_(std::move(done)) {}
  ~PendingReply() {
    if (done_) done_(shutting_down());
  }
  PendingReply(const PendingReply&) = delete;
  PendingReply& operator=(const PendingReply&) = delete;
  void answer(Result<PluginView> result) {
    if (auto done = std::exchange(done_, nullptr)) done(std::move(result));
  }

 private:
  ViewCallback done_;
};

std::shared_ptr<PluginHost::PendingReply> PluginHost::pending_reply(ViewCallback done) {
  auto reply = std::make_shared<PendingReply>(std::move(done));
  std::lock_guard lock(mu_);
  std::erase_if(outstanding_, [](const auto& weak) { return weak.expired(); });
  outstanding_.push_back(reply);
  return reply;
}

void PluginHost::answer_outstanding() {
  std::vector<std::weak_ptr<PendingReply>> outstanding;
  {
    std::lock_guard lock(mu_);
    outstanding.swap(outstanding_);
  }
  for (const auto& weak : outstanding) {
    if (auto reply = weak.lock()) reply->answer(shutting_down());
  }
}

std::vector<PluginView> PluginHost::list() const {
  const auto snapshot = attachments();
  std::vector<PluginView> views;
  if (!snapshot) return views;
  for (const Plugin& plugin : plugins_) views.push_back(view_of(plugin, *snapshot));
  return views;
}

Result<PluginView> PluginHost::show(const std::string& plugin) const {
  const auto snapshot = attachments();
  for (const Plugin& candidate : plugins_) {
    if (snapshot && candidate.supervisor->config().name == plugin) return view_of(candidate, *snapshot);
  }
  return unknown_plugin(plugin);
}

PluginView PluginHost::view_of(const Plugin& plugin, const Attachments& attachments) const {
  const PluginConfig& config = plugin.supervisor->config();
  PluginView view;
  view.name = config.name;
  view.kind = config.kind;
  view.command = config.command;
  view.run = plugin.supervisor->snapshot();
  view.watching = config.watch;
  if (auto found = attachments.by_plugin.find(config.name); found != attachments.by_plugin.end()) {
    for (const Attachment& attachment : found->second) {
      view.attachments.push_back(
          {attachment.queue,
           config.kind == kFilterKind ? std::string(filter_policy_name(attachment.policy)) : "",
           attachment.from_runtime ? "runtime" : "config"});
    }
  }
  // Workers are created by run() before the API starts; their counters are atomics.
  if (plugin.worker != nullptr) view.trigger = plugin.worker->counters();
  return view;
}

PluginHost::Plugin* PluginHost::find_plugin(const std::string& name) {
  for (Plugin& plugin : plugins_) {
    if (plugin.supervisor->config().name == name) return &plugin;
  }
  return nullptr;
}

Error PluginHost::unknown_plugin(const std::string& name) const {
  std::vector<std::string_view> names;
  for (const Plugin& plugin : plugins_) names.push_back(plugin.supervisor->config().name);
  const auto nearest = nearest_name(name, names, 3);
  return Error(ErrorCode::kNotFound, fmt::format("no plug-in is named \"{}\"", name),
               nearest
                   ? fmt::format("did you mean \"{}\"? 'ballast plugin list' shows them", *nearest)
                   : std::string("'ballast plugin list' shows the configured plug-ins; a plug-in is added "
                                 "with a [[plugins]] table in ballast.toml and a restart"));
}

void PluginHost::attach(std::string plugin, std::string queue, std::string policy, ViewCallback done) {
  auto reply = pending_reply(std::move(done));
  if (auto valid = check_queue_name(queue); !valid) return reply->answer(std::move(valid).error());
  change_overlay(
      plugin, reply,
      [this, queue, policy](const Plugin& target) -> Result<PluginOverlay> {
        const std::string& name = target.supervisor->config().name;
        const bool trigger = target.supervisor->config().kind == kTriggerKind;
        if (auto holder = filter_of(std::string(kVhost), queue);
            !trigger && holder && holder->supervisor->config().name != name) {
          return Error(ErrorCode::kInvalidArgument,
                       fmt::format("queue \"{}\" already has the filter \"{}\"; a queue has one filter",
                                   queue, holder->supervisor->config().name),
                       fmt::format("'ballast plugin detach {} --queue {}' first",
                                   holder->supervisor->config().name, queue));
        }
        if (trigger && !policy.empty()) {
          return Error(ErrorCode::kInvalidArgument,
                       fmt::format("trigger \"{}\" takes no policy (given \"{}\")",
                                   target.supervisor->config().name, policy),
                       "leave out --policy: a trigger's work waits durably while it is down");
        }
        if (!trigger && queue.size() > kMaxFilteredQueueNameBytes) {
          return Error(ErrorCode::kInvalidArgument,
                       fmt::format("queue name of {} bytes: a filtered queue's name has at most {} (its held "
                                   "messages wait in \"ballast.held.<queue>\", at most 255 bytes)",
                                   queue.size(), kMaxFilteredQueueNameBytes),
                       "filter a queue with a shorter name");
        }
        if (policy.empty())
          return with_attached(target.overlay, target.supervisor->config(), queue, std::nullopt);
        auto parsed = parse_filter_policy(policy);
        if (!parsed) return std::move(parsed).error();
        return with_attached(target.overlay, target.supervisor->config(), queue, *parsed);
      },
      [plugin, queue, policy] {
        log::event(log::Level::kInfo, "plugin.attached",
                   {log::kv("plugin", plugin), log::kv("queue", queue),
                    log::kv("policy", policy.empty() ? std::string("as in its [[plugins]] table") : policy)});
      });
}

void PluginHost::detach(std::string plugin, std::string queue, ViewCallback done) {
  auto reply = pending_reply(std::move(done));
  change_overlay(
      plugin, reply,
      [this, queue](const Plugin& target) -> Result<PluginOverlay> {
        const auto snapshot = attachments();
        const auto& mine = snapshot->by_plugin.find(target.supervisor->config().name);
        // A run-time attachment left out for a conflict (plugin.attachment_skipped) is detached too.
        const bool attached = target.overlay.attached.contains(queue) ||
                              (mine != snapshot->by_plugin.end() &&
                               std::any_of(mine->second.begin(), mine->second.end(),
                                           [&](const Attachment& a) { return a.queue == queue; }));
        if (!attached) {
          return Error(
              ErrorCode::kNotFound,
              fmt::format("plug-in \"{}\" is not attached to queue \"{}\"", target.supervisor->config().name,
                          queue),
              fmt::format("'ballast plugin show {}' lists its queues", target.supervisor->config().name));
        }
        return with_detached(target.overlay, target.supervisor->config(), queue);
      },
      [plugin, queue] {
        log::event(log::Level::kInfo, "plugin.detached",
                   {log::kv("plugin", plugin), log::kv("queue", queue)});
      });
}

void PluginHost::disable(std::string plugin, ViewCallback done) {
  set_disabled(std::move(plugin), true, std::move(done));
}

void PluginHost::enable(std::string plugin, ViewCallback done) {
  set_disabled(std::move(plugin), false, std::move(done));
}

void PluginHost::set_disabled(std::string plugin, bool disabled, ViewCallback done) {
  auto reply = pending_reply(std::move(done));
  change_overlay(
      plugin, reply,
      [disabled](const Plugin& target) -> Result<PluginOverlay> {
        PluginOverlay overlay = target.overlay;
        overlay.disabled = disabled;
        return overlay;
      },
      nullptr);
}

void PluginHost::reload(std::string plugin, ViewCallback done) {
  auto reply = pending_reply(std::move(done));
  post_change(plugin, reply, [this, plugin, reply] {
    Plugin* target = find_plugin(plugin);
    if (target == nullptr) {
      reply->answer(unknown_plugin(plugin));
      return finish_change();
    }
    // Not one at a time with the others: a reload waits for a handshake, and changes need not.
    finish_change();
    target->supervisor->reload("operator (ballast plugin reload)",
                               [this, target, reply](const Status& reloaded) {
                                 if (!reloaded) return reply->answer(reloaded.error());
                                 reply->answer(view_of(*target, *attachments()));
                               });
  });
}

void PluginHost::post_change(std::string plugin, std::shared_ptr<PendingReply> reply,
                             std::function<void()> change) {
  if (!running_.load() || !gate_) return reply->answer(shutting_down());
  // The reply travels with the change: dropped unrun (the host stopped), it answers SHUTTING_DOWN.
  gate_->post([this, change = std::move(change), reply] {
    changes_.push_back(change);
    if (!changing_) {
      changing_ = true;
      auto next = std::move(changes_.front());
      changes_.pop_front();
      next();
    }
  });
}

void PluginHost::finish_change() {
  if (changes_.empty()) {
    changing_ = false;
    return;
  }
  auto next = std::move(changes_.front());
  changes_.pop_front();
  next();
}

void PluginHost::change_overlay(std::string plugin, std::shared_ptr<PendingReply> reply, Change change,
                                std::function<void()> announce) {
  post_change(plugin, reply,
              [this, plugin, reply, change = std::move(change), announce = std::move(announce)] {
                Plugin* target = find_plugin(plugin);
                if (target == nullptr) {
                  reply->answer(unknown_plugin(plugin));
                  return finish_change();
                }
                auto changed = change(*target);
                if (!changed) {
                  reply->answer(std::move(changed).error());
                  return finish_change();
                }
                // Built before it is stored, with the change: what the broker reads once it is applied.
                const PluginOverlay before = std::exchange(target->overlay, *changed);
                auto attachments = build_attachments(Skipped::kQuiet);
                target->overlay = before;
                if (!attachments) {
                  reply->answer(std::move(attachments).error());
                  return finish_change();
                }
                broker_->store_plugin_settings(
                    plugin, encode_overlay(*changed),
                    [this, gate = gate_, target, reply, overlay = *changed, attachments = *attachments,
                     announce = std::move(announce)](Status stored) mutable {
                      // On the broker's thread: back to the host's, or (stopped) dropped, answering
                      // SHUTTING_DOWN.
                      gate->post([this, target, reply, overlay = std::move(overlay),
                                  attachments = std::move(attachments), announce = std::move(announce),
                                  stored = std::move(stored)]() mutable {
                        if (!stored) {
                          reply->answer(std::move(stored).error());
                          return finish_change();
                        }
                        apply_overlay(*target, std::move(overlay), std::move(attachments));
                        if (announce) announce();
                        reply->answer(view_of(*target, *this->attachments()));
                        finish_change();
                      });
                    });
              });
}

void PluginHost::apply_overlay(Plugin& plugin, PluginOverlay overlay,
                               std::shared_ptr<const Attachments> attachments) {
  const bool was_disabled = plugin.overlay.disabled;
  plugin.overlay = std::move(overlay);
  publish(std::move(attachments));
  if (plugin.overlay.disabled && !was_disabled) plugin.supervisor->disable();
  if (!plugin.overlay.disabled && was_disabled) plugin.supervisor->enable();
}

}  // namespace ballast::plugins

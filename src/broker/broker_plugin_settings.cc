// BrokerCore: plug-in run-time settings (docs/plugins.md, "Run-time changes"). The broker keeps
// each plug-in's settings as opaque bytes, journals them whole (record type 10, ignorable) and
// carries them in every checkpoint; the plug-in host gives them meaning. Broker thread only,
// except recovered_plugin_settings() (opening thread, before run()).
#include "broker/broker_core.h"
#include "util/log.h"

namespace ballast::broker {

void BrokerCore::store_plugin_settings(std::string plugin, std::string settings, Callback<void> done) {
  on_loop(done, [this, plugin = std::move(plugin), settings = std::move(settings), done]() mutable {
    // Refused before anything changes: memory never holds settings the journal does not.
    if (auto refusal = storage_refusal()) return done(std::move(*refusal));
    CommitPlan plan;
    // Ignorable: a binary from before plug-in settings skips it and runs the file's plug-ins.
    plan.add(
        {static_cast<uint16_t>(RecordType::kPluginSettings), true, encode_plugin_settings(plugin, settings)});
    // Changed first, so that a checkpoint taken before the commit includes it; undone if it fails.
    std::optional<std::string> before;
    if (auto found = plugin_settings_.find(plugin); found != plugin_settings_.end()) before = found->second;
    set_plugin_settings(plugin, settings);
    plan.on_failed.push_back([this, plugin, before] { set_plugin_settings(plugin, before.value_or("")); });
    auto submitted = submit(std::move(plan), [done](Status committed) { done(std::move(committed)); });
    if (!submitted) done(std::move(submitted));
  });
}

void BrokerCore::set_plugin_settings(const std::string& plugin, std::string settings) {
  if (settings.empty()) {
    plugin_settings_.erase(plugin);
  } else {
    plugin_settings_[plugin] = std::move(settings);
  }
}

std::map<std::string, std::string> BrokerCore::recovered_plugin_settings() const {
  BALLAST_CHECK(!running_, "recovered_plugin_settings() runs before run(), on the opening thread");
  return plugin_settings_;
}

Status BrokerCore::apply_plugin_settings_record(std::string_view payload) {
  ByteReader reader(payload);
  std::string plugin, settings;
  if (!reader.str(plugin) || !reader.str(settings)) {
    return Error(ErrorCode::kStorageCorrupt, "a plug-in settings record does not parse",
                 "run 'ballast doctor'; the plug-ins run with their configuration file settings, and "
                 "'ballast plugin attach' or 'detach' stores them again");
  }
  set_plugin_settings(plugin, std::move(settings));
  return ok_status();
}

}  // namespace ballast::broker

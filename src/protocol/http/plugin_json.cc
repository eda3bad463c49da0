#include "protocol/http/plugin_json.h"

#include "util/recent_events.h"

namespace ballast::http {

using nlohmann::json;

namespace {

json summary_of(const plugins::PluginView& view) {
  return {{"name", view.name},
          {"kind", view.kind},
          {"state", view.run.state},
          {"reason", view.run.reason},
          {"pid", view.run.pid}};
}

}  // namespace

json plugin_json(const plugins::PluginView& view) {
  json document = summary_of(view);
  document["command"] = view.command;
  document["version"] = view.run.version;
  document["since"] = log::utc_timestamp(view.run.since_unix_ms);
  document["restarts"] = view.run.restarts;
  document["reloads"] = view.run.reloads;
  document["failures_in_a_row"] = view.run.failures_in_a_row;
  document["watching"] = view.watching;
  json attachments = json::array();
  for (const plugins::AttachmentView& attachment : view.attachments) {
    json entry{{"queue", attachment.queue}, {"source", attachment.source}};
    if (!attachment.policy.empty()) entry["policy"] = attachment.policy;
    attachments.push_back(std::move(entry));
  }
  document["attachments"] = std::move(attachments);
  if (view.trigger) {
    document["trigger"] = {{"done", view.trigger->done},
                           {"retries", view.trigger->retries},
                           {"dead_lettered", view.trigger->dead_lettered},
                           {"in_hand", view.trigger->in_hand}};
  }
  return document;
}

json plugins_json(const std::vector<plugins::PluginView>& views) {
  json list = json::array();
  for (const plugins::PluginView& view : views) list.push_back(plugin_json(view));
  return {{"plugins", std::move(list)}};
}

json plugin_summary_json(const std::vector<plugins::PluginView>& views) {
  json list = json::array();
  for (const plugins::PluginView& view : views) list.push_back(summary_of(view));
  return list;
}

}  // namespace ballast::http

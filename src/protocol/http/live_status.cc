#include "protocol/http/live_status.h"

#include <algorithm>

#include "protocol/http/api_json.h"

namespace ballast::http {
namespace {

using nlohmann::json;

json refusal_json(const std::optional<Error>& refusal) {
  if (!refusal) return nullptr;
  return {{"code", refusal->code_name()}, {"message", refusal->message()}, {"fix", refusal->fix()}};
}

json damaged_queues_json(const std::vector<broker::DamagedQueue>& queues) {
  json list = json::array();
  for (const broker::DamagedQueue& queue : queues) {
    list.push_back({{"vhost", queue.vhost},
                    {"name", queue.name},
                    {"code", error_code_name(queue.code)},
                    {"unreadable_messages", queue.unreadable_messages},
                    {"message", queue.message}});
  }
  return list;
}

json blocked_publishers_json(const std::vector<net::BlockedPublisher>& publishers, int64_t now_unix_ms) {
  json list = json::array();
  for (const net::BlockedPublisher& publisher : publishers) {
    const int64_t blocked_ms = std::max<int64_t>(0, now_unix_ms - publisher.since_unix_ms);
    list.push_back({{"protocol", publisher.protocol},
                    {"connection_id", publisher.connection_id},
                    {"peer", publisher.peer},
                    {"user", publisher.user},
                    {"vhost", publisher.vhost},
                    {"since", log::utc_timestamp(publisher.since_unix_ms)},
                    {"blocked_seconds", blocked_ms / 1000},
                    {"code", error_code_name(publisher.code)},
                    {"reason", publisher.reason}});
  }
  return list;
}

json recent_events_json(const std::vector<log::RecentEvent>& events) {
  json list = json::array();
  for (const log::RecentEvent& event : events) {
    json fields = json::object();
    for (const auto& [key, value] : event.fields) fields[key] = value;
    list.push_back({{"time", event.time},
                    {"level", log::level_name(event.level)},
                    {"event", event.name},
                    {"fields", std::move(fields)}});
  }
  return list;
}

}  // namespace

json live_status_json(const LiveStatus& status) {
  json document = health_json(status.health);
  document["serving"] = status.health.serving;
  document["publish_refusal"] = refusal_json(status.health.publish_refusal);
  document["damaged_queues"] = damaged_queues_json(status.health.damaged_queues);
  document["blocked_publishers"] = blocked_publishers_json(status.blocked_publishers, status.now_unix_ms);
  const PublishRefusals::Summary& refusals = status.http_publish_refusals;
  document["http_publish_refusals"] = {
      {"last_minute", refusals.last_minute},
      {"last_code", refusals.last_code ? json(error_code_name(*refusals.last_code)) : json(nullptr)}};
  document["recent_events"] = recent_events_json(status.recent_events);
  document["recent_events_total"] = status.recent_events_total;
  document["recent_events_kept"] = status.recent_events_capacity;
  return document;
}

}  // namespace ballast::http

#pragma once
// The live status of a running broker as GET /api/v1/status answers it (docs/http-api.md):
// what /healthz says (status, degraded parts), plus why publishing is refused, the queues with
// unreadable messages, the publishers told to stop (AMQP connection.blocked), the HTTP
// publishes refused for a broker-wide reason in the last minute, and the last warn and error
// events, newest first.
// Thread-safe: plain values and a pure function.

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/broker.h"
#include "protocol/http/publish_refusals.h"
#include "protocol/net/blocked_publishers.h"
#include "util/recent_events.h"

namespace ballast::http {

struct LiveStatus {
  broker::HealthReport health;
  std::vector<net::BlockedPublisher> blocked_publishers;  // longest blocked first
  PublishRefusals::Summary http_publish_refusals;
  std::vector<log::RecentEvent> recent_events;  // newest first
  uint64_t recent_events_total = 0;             // warn and error events since the broker started
  uint64_t recent_events_capacity = 0;          // how many of them are kept
  int64_t now_unix_ms = 0;
};

nlohmann::json live_status_json(const LiveStatus& status);

}  // namespace ballast::http

#pragma once
// What `ballast doctor --server` makes of a running broker's live status (GET /api/v1/status,
// docs/http-api.md) and statistics (GET /api/v1/stats): checklist lines and the recent fault
// events.
//  - live.COMPONENT: fail for each degraded part (storage unwritable, disk full, ...); one ok
//    live.health line when nothing is degraded;
//  - live.queues: fail for each queue with unreadable messages, else ok;
//  - live.publishers: warn while AMQP publishers are blocked or HTTP publishes were refused for
//    a broker-wide reason in the last minute, else ok;
//  - live.plugins.NAME: ok for each plug-in that is ready, warn (PLUGIN_UNAVAILABLE, its state
//    and why) for each that is not;
//  - live.events: warn when the broker logged warn or error events since it started (each is
//    listed, newest first), else ok;
//  - live.stats: queues, messages and journal size (warn when they cannot be read).
// Thread-safe: pure functions.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/check_result.h"
#include "util/result.h"

namespace ballast::tools {

struct LiveFindings {
  std::vector<ops::CheckResult> checks;
  std::vector<std::string> event_lines;  // the recent events, newest first, one log-like line each
  nlohmann::json live;                   // for --json: the status document and "stats"
};

// `status` is the /api/v1/status answer; `stats` the /api/v1/stats one.
LiveFindings live_findings(const nlohmann::json& status, const Result<nlohmann::json>& stats);

// For a server without /api/v1/status (an older ballastd): the checks /healthz allows, and a
// live.status warning that blocked publishers, damaged queues and events were not checked.
LiveFindings health_only_findings(const nlohmann::json& health, const Result<nlohmann::json>& stats);

}  // namespace ballast::tools

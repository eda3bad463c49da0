#include "tools/doctor_live.h"

#include <fmt/format.h>

namespace ballast::tools {
namespace {

using nlohmann::json;

constexpr size_t kPublishersNamed = 3;

std::string text_of(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

uint64_t number_of(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_number_unsigned() ? found->get<uint64_t>() : 0;
}

const json& array_of(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const auto found = object.find(key);
  return found != object.end() && found->is_array() ? *found : kEmpty;
}

// A failing line for a part the server reported with `object`'s code. A code this client does
// not know (a newer server) is shown as the server sent it, never replaced by a guess.
ops::CheckResult live_failure(std::string name, const json& object, std::string message, std::string fix) {
  const std::string code_name = text_of(object, "code");
  if (auto code = error_code_from_name(code_name)) {
    return ops::problem(std::move(name), ops::CheckStatus::kFail,
                        Error(*code, std::move(message), std::move(fix)));
  }
  return ops::CheckResult{std::move(name),
                          ops::CheckStatus::kFail,
                          ops::ProblemClass::kNone,
                          std::nullopt,
                          fmt::format("{}: {}", code_name.empty() ? "(no code)" : code_name, message),
                          std::move(fix)};
}

ops::CheckResult warning(std::string name, std::optional<ErrorCode> code, std::string message,
                         std::string fix) {
  return ops::CheckResult{std::move(name),    ops::CheckStatus::kWarn, ops::ProblemClass::kNone, code,
                          std::move(message), std::move(fix)};
}

// One failing check per degraded part; one ok line when nothing is degraded.
void add_health_checks(const json& health, std::vector<ops::CheckResult>& checks) {
  if (text_of(health, "status") == "ok")
    checks.push_back(ops::passed("live.health", "status ok, nothing degraded"));
  for (const json& part : array_of(health, "degraded")) {
    const std::string code_name = text_of(part, "code");
    checks.push_back(live_failure(
        "live." + (text_of(part, "component").empty() ? std::string("broker") : text_of(part, "component")),
        part, text_of(part, "message"),
        fmt::format("see {} in docs/operations.md; new messages are refused until it clears", code_name)));
  }
}

void add_queue_checks(const json& status, std::vector<ops::CheckResult>& checks) {
  const json& damaged = array_of(status, "damaged_queues");
  if (damaged.empty()) checks.push_back(ops::passed("live.queues", "no queue has unreadable messages"));
  for (const json& queue : damaged) {
    checks.push_back(live_failure(
        "live.queues", queue,
        fmt::format("queue \"{}\" (vhost \"{}\"): {} message(s) cannot be read: {}", text_of(queue, "name"),
                    text_of(queue, "vhost"), number_of(queue, "unreadable_messages"),
                    text_of(queue, "message")),
        "the rest of the queue is served; to keep what is readable in a fresh journal, stop ballastd and "
        "run 'ballast journal verify' then 'ballast journal salvage' on its data directory"));
  }
}

std::string blocked_summary(const json& publishers) {
  std::vector<std::string> named;
  for (const json& publisher : publishers) {
    if (named.size() == kPublishersNamed) break;
    named.push_back(fmt::format("{} {}@{} (vhost \"{}\") for {} s since {}", text_of(publisher, "protocol"),
                                text_of(publisher, "user"), text_of(publisher, "peer"),
                                text_of(publisher, "vhost"), number_of(publisher, "blocked_seconds"),
                                text_of(publisher, "since")));
  }
  const std::string more =
      publishers.size() > named.size() ? fmt::format(" and {} more", publishers.size() - named.size()) : "";
  return fmt::format("{} publisher connection(s) blocked: {}{}; told: {}", publishers.size(),
                     fmt::join(named, ", "), more, text_of(publishers[0], "reason"));
}

void add_publisher_check(const json& status, std::vector<ops::CheckResult>& checks) {
  const json& blocked = array_of(status, "blocked_publishers");
  const auto refusals_found = status.find("http_publish_refusals");
  const json refusals =
      refusals_found != status.end() && refusals_found->is_object() ? *refusals_found : json::object();
  const uint64_t refused = number_of(refusals, "last_minute");
  if (blocked.empty() && refused == 0) {
    checks.push_back(ops::passed("live.publishers",
                                 "no publisher is blocked; no HTTP publish refused in the last minute"));
    return;
  }
  std::vector<std::string> parts;
  if (!blocked.empty()) parts.push_back(blocked_summary(blocked));
  if (refused > 0) {
    parts.push_back(fmt::format("{} HTTP publish(es) refused in the last minute (last: {})", refused,
                                text_of(refusals, "last_code")));
  }
  const std::string code_name =
      blocked.empty() ? text_of(refusals, "last_code") : text_of(blocked[0], "code");
  checks.push_back(warning("live.publishers", error_code_from_name(code_name),
                           fmt::format("{}", fmt::join(parts, "; ")),
                           "remove the cause (the failing live check above, " + code_name +
                               " in docs/operations.md); publishers are sent connection.unblocked and resume "
                               "by themselves"));
}

// One line per plug-in: ok when ready, a warning naming its state and why when not (the broker
// and the other queues are served either way; its queues follow their policy).
void add_plugin_checks(const json& status, std::vector<ops::CheckResult>& checks) {
  for (const json& plugin : array_of(status, "plugins")) {
    const std::string name = fmt::format("live.plugins.{}", text_of(plugin, "name"));
    const std::string state = text_of(plugin, "state");
    if (state == "ready") {
      checks.push_back(ops::passed(
          name, fmt::format("{} \"{}\" is ready (pid {}, version {}, {} restart(s))", text_of(plugin, "kind"),
                            text_of(plugin, "name"), number_of(plugin, "pid"), text_of(plugin, "version"),
                            number_of(plugin, "restarts"))));
      continue;
    }
    const bool disabled = state == "disabled";
    checks.push_back(warning(
        name, ErrorCode::kPluginUnavailable,
        fmt::format("{} \"{}\" is {}: {}", text_of(plugin, "kind"), text_of(plugin, "name"), state,
                    text_of(plugin, "reason")),
        disabled ? fmt::format("'ballast plugin enable {}' starts it again", text_of(plugin, "name"))
                 : fmt::format("its queues follow their policy meanwhile; 'ballast plugin show {}' and its "
                               "plugin.* events say why it is down",
                               text_of(plugin, "name"))));
  }
}

std::string event_line(const json& event) {
  std::string line =
      fmt::format("{} {} {}", text_of(event, "time"), text_of(event, "level"), text_of(event, "event"));
  const auto fields = event.find("fields");
  if (fields == event.end() || !fields->is_object()) return line;
  for (const auto& [key, value] : fields->items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    const bool quote = text.empty() || text.find_first_of(" \"=") != std::string::npos;
    line += quote ? fmt::format(" {}=\"{}\"", key, text) : fmt::format(" {}={}", key, text);
  }
  return line;
}

void add_event_check(const json& status, LiveFindings& findings) {
  const json& events = array_of(status, "recent_events");
  for (const json& event : events) findings.event_lines.push_back(event_line(event));
  if (events.empty()) {
    findings.checks.push_back(ops::passed("live.events", "no warn or error event since the broker started"));
    return;
  }
  const json& newest = events[0];
  const auto fields = newest.find("fields");
  const std::string code_name = fields != newest.end() && fields->is_object() ? text_of(*fields, "code") : "";
  findings.checks.push_back(warning(
      "live.events", error_code_from_name(code_name),
      fmt::format(
          "{} warn or error event(s) since the broker started, the last {} listed below; newest: {} {} {}",
          number_of(status, "recent_events_total"), events.size(), text_of(newest, "time"),
          text_of(newest, "level"), text_of(newest, "event")),
      "read the events below (docs/events.md explains each); a cleared fault leaves its events here until "
      "ballastd restarts"));
}

ops::CheckResult stats_check(const Result<json>& stats) {
  if (!stats) return ops::problem("live.stats", ops::CheckStatus::kWarn, stats.error());
  return ops::passed(
      "live.stats",
      fmt::format("{} queues, {} messages ({} in flight), journal {} bytes in {} segments",
                  number_of(*stats, "queues"), number_of(*stats, "messages"), number_of(*stats, "in_flight"),
                  number_of(*stats, "journal_bytes"), number_of(*stats, "journal_segments")));
}

}  // namespace

LiveFindings live_findings(const json& status, const Result<json>& stats) {
  LiveFindings findings;
  add_health_checks(status, findings.checks);
  add_queue_checks(status, findings.checks);
  add_publisher_check(status, findings.checks);
  add_plugin_checks(status, findings.checks);
  add_event_check(status, findings);
  findings.checks.push_back(stats_check(stats));
  findings.live = status;
  findings.live["stats"] = stats ? *stats : json(nullptr);
  return findings;
}

LiveFindings health_only_findings(const json& health, const Result<json>& stats) {
  LiveFindings findings;
  add_health_checks(health, findings.checks);
  findings.checks.push_back(
      warning("live.status", ErrorCode::kNotFound,
              "the server has no /api/v1/status (an older ballastd): damaged queues, blocked "
              "publishers and recent events were not checked",
              "upgrade ballastd to the version of this ballast CLI"));
  findings.checks.push_back(stats_check(stats));
  findings.live = health;
  findings.live["stats"] = stats ? *stats : json(nullptr);
  return findings;
}

}  // namespace ballast::tools

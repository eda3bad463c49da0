#include "tools/doctor_live.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

using nlohmann::json;

const ops::CheckResult* find_check(const LiveFindings& findings, const std::string& name) {
  for (const auto& check : findings.checks) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

json stats() {
  return {{"queues", 2}, {"messages", 5}, {"in_flight", 1}, {"journal_bytes", 4096}, {"journal_segments", 1}};
}

TEST(DoctorLive, AQuietBrokerIsAllOk) {
  const json status =
      json::parse(R"({"status": "ok", "serving": true, "degraded": [], "publish_refusal": null,
      "damaged_queues": [], "blocked_publishers": [], "http_publish_refusals": {"last_minute": 0, "last_code": null},
      "recent_events": [], "recent_events_total": 0, "recent_events_kept": 50})");
  const LiveFindings findings = live_findings(status, stats());
  for (const auto& check : findings.checks) EXPECT_EQ(check.status, ops::CheckStatus::kOk) << check.name;
  for (const char* name : {"live.health", "live.queues", "live.publishers", "live.events", "live.stats"})
    EXPECT_NE(find_check(findings, name), nullptr) << name;
  EXPECT_TRUE(findings.event_lines.empty());
  EXPECT_EQ(findings.live["stats"]["queues"], 2);
}

TEST(DoctorLive, EachPluginIsOkWhenReadyAndAWarningNamingItsStateAndWhyWhenNot) {
  const json status = json::parse(R"({"status": "ok", "serving": true, "degraded": [], "damaged_queues": [],
      "blocked_publishers": [], "recent_events": [], "recent_events_total": 0, "plugins": [
        {"name": "spam", "kind": "filter", "state": "ready", "reason": "", "pid": 41, "version": "2.1",
         "restarts": 3},
        {"name": "hook", "kind": "trigger", "state": "circuit-open", "pid": 0,
         "reason": "held off by its circuit breaker after 5 failed starts in a row"},
        {"name": "old", "kind": "filter", "state": "disabled", "pid": 0, "reason": "disabled by the operator"}]})");
  const LiveFindings findings = live_findings(status, stats());
  const ops::CheckResult* spam = find_check(findings, "live.plugins.spam");
  ASSERT_NE(spam, nullptr);
  EXPECT_EQ(spam->status, ops::CheckStatus::kOk);
  EXPECT_NE(spam->message.find("pid 41, version 2.1, 3 restart(s)"), std::string::npos) << spam->message;
  const ops::CheckResult* hook = find_check(findings, "live.plugins.hook");
  ASSERT_NE(hook, nullptr);
  EXPECT_EQ(hook->status, ops::CheckStatus::kWarn);
  EXPECT_EQ(hook->code, ErrorCode::kPluginUnavailable);
  EXPECT_NE(hook->message.find("is circuit-open: held off by its circuit breaker"), std::string::npos)
      << hook->message;
  const ops::CheckResult* old = find_check(findings, "live.plugins.old");
  ASSERT_NE(old, nullptr);
  EXPECT_NE(old->fix.find("'ballast plugin enable old'"), std::string::npos) << old->fix;
}

TEST(DoctorLive, DegradedStorageFailsBlockedPublishersAndEventsWarn) {
  const json status = json::parse(R"({"status": "degraded", "serving": true,
      "degraded": [{"component": "storage", "code": "STORAGE_PERMISSION_DENIED", "message": "cannot write /d"}],
      "damaged_queues": [{"vhost": "/", "name": "orders", "code": "STORAGE_CORRUPT", "unreadable_messages": 2,
                          "message": "bad crc at segment 3 offset 128"}],
      "blocked_publishers": [{"protocol": "amqp", "connection_id": 3, "peer": "127.0.0.1:4000", "user": "guest",
                              "vhost": "/", "since": "2026-12-02T10:00:00.000Z", "blocked_seconds": 7,
                              "code": "STORAGE_PERMISSION_DENIED", "reason": "STORAGE_PERMISSION_DENIED: cannot write"}],
      "http_publish_refusals": {"last_minute": 4, "last_code": "STORAGE_PERMISSION_DENIED"},
      "recent_events": [{"time": "2026-12-02T10:00:01.000Z", "level": "error", "event": "storage.self_check_failed",
                         "fields": {"code": "STORAGE_PERMISSION_DENIED", "path": "/d", "message": "cannot write /d"}}],
      "recent_events_total": 9, "recent_events_kept": 50})");
  const LiveFindings findings = live_findings(status, stats());
  const auto* storage = find_check(findings, "live.storage");
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->status, ops::CheckStatus::kFail);
  EXPECT_EQ(storage->code, ErrorCode::kStoragePermissionDenied);
  const auto* queues = find_check(findings, "live.queues");
  ASSERT_NE(queues, nullptr);
  EXPECT_EQ(queues->status, ops::CheckStatus::kFail);
  EXPECT_NE(queues->message.find("queue \"orders\" (vhost \"/\"): 2 message(s)"), std::string::npos);
  const auto* publishers = find_check(findings, "live.publishers");
  ASSERT_NE(publishers, nullptr);
  EXPECT_EQ(publishers->status, ops::CheckStatus::kWarn);
  EXPECT_EQ(publishers->code, ErrorCode::kStoragePermissionDenied);
  for (const char* text :
       {"1 publisher connection(s) blocked", "amqp guest@127.0.0.1:4000 (vhost \"/\") for 7 s",
        "4 HTTP publish(es) refused in the last minute"}) {
    EXPECT_NE(publishers->message.find(text), std::string::npos) << publishers->message;
  }
  EXPECT_FALSE(publishers->fix.empty());
  const auto* events = find_check(findings, "live.events");
  ASSERT_NE(events, nullptr);
  EXPECT_EQ(events->status, ops::CheckStatus::kWarn);
  EXPECT_NE(events->message.find("9 warn or error event(s)"), std::string::npos) << events->message;
  ASSERT_EQ(findings.event_lines.size(), 1u);
  EXPECT_EQ(findings.event_lines[0],
            "2026-12-02T10:00:01.000Z error storage.self_check_failed code=STORAGE_PERMISSION_DENIED "
            "message=\"cannot write /d\" path=/d");
}

TEST(DoctorLive, ACodeThisClientDoesNotKnowIsShownAsSentNotGuessed) {
  const json status = json::parse(R"({"status": "degraded", "serving": true,
      "degraded": [{"component": "cluster", "code": "QUORUM_LOST", "message": "2 of 3 nodes unreachable"}],
      "damaged_queues": [], "blocked_publishers": [], "http_publish_refusals": {"last_minute": 0, "last_code": null},
      "recent_events": [], "recent_events_total": 0, "recent_events_kept": 50})");
  const LiveFindings findings = live_findings(status, stats());
  const auto* cluster = find_check(findings, "live.cluster");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->status, ops::CheckStatus::kFail);
  EXPECT_FALSE(cluster->code.has_value());
  EXPECT_EQ(cluster->message, "QUORUM_LOST: 2 of 3 nodes unreachable");
}

TEST(DoctorLive, AnOlderServerWithoutStatusWarnsWhatWasNotChecked) {
  const json health = json::parse(R"({"status": "ok", "degraded": []})");
  const LiveFindings findings = health_only_findings(health, stats());
  const auto* status = find_check(findings, "live.status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->status, ops::CheckStatus::kWarn);
  EXPECT_NE(find_check(findings, "live.health"), nullptr);
}

}  // namespace
}  // namespace ballast::tools

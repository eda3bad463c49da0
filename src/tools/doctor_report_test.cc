#include "tools/doctor_report.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

DoctorFindings stopped_findings() {
  DoctorFindings findings;
  findings.mode = "stopped";
  findings.context = {"ballast doctor: stopped broker"};
  findings.checks.push_back(ops::passed("lock", "the data directory is not locked"));
  findings.checks.push_back(ops::problem(
      "disk.free", ops::CheckStatus::kWarn,
      Error(ErrorCode::kStorageFull, "1 GiB free below 2 GiB", "free space on the file system")));
  return findings;
}

TEST(DoctorJson, AbsentValuesAreNullCountsNumbersAndPassedABoolean) {
  const nlohmann::json report = doctor_json(stopped_findings());
  const nlohmann::json& ok = report["checks"][0];
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_TRUE(ok["class"].is_null());
  EXPECT_TRUE(ok["code"].is_null());
  EXPECT_TRUE(ok["fix"].is_null());
  EXPECT_TRUE(ok["message"].is_string());
  const nlohmann::json& warn = report["checks"][1];
  EXPECT_EQ(warn["class"], "resource");
  EXPECT_EQ(warn["code"], "STORAGE_FULL");
  EXPECT_EQ(warn["fix"], "free space on the file system");
  for (const char* count : {"ok", "warn", "fail"}) EXPECT_TRUE(report[count].is_number_unsigned()) << count;
  EXPECT_EQ(report["ok"], 1);
  EXPECT_EQ(report["warn"], 1);
  EXPECT_EQ(report["fail"], 0);
  EXPECT_TRUE(report["passed"].is_boolean());
  EXPECT_EQ(report["passed"], true);
  EXPECT_TRUE(report["live"].is_null());
}

TEST(DoctorJson, AFailingCheckMakesPassedFalse) {
  DoctorFindings findings = stopped_findings();
  findings.checks.push_back(ops::problem("data_dir.access", ops::CheckStatus::kFail,
                                         Error(ErrorCode::kStoragePermissionDenied, "denied", "chown it")));
  const nlohmann::json report = doctor_json(findings);
  EXPECT_EQ(report["passed"], false);
  EXPECT_EQ(report["fail"], 1);
  EXPECT_TRUE(any_failed(findings));
}

TEST(DoctorText, ListsTheRecentEventsAfterTheChecks) {
  DoctorFindings findings = stopped_findings();
  for (int n = 0; n < 12; ++n) findings.event_lines.push_back(fmt::format("event-{}", n));
  const std::string text = doctor_text(findings);
  EXPECT_NE(text.find("recent warn and error events, newest first (showing 10 of 12):\n      event-0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("event-9\n"), std::string::npos);
  EXPECT_EQ(text.find("event-10"), std::string::npos);
  EXPECT_NE(text.find("1 ok, 1 warn, 0 fail\n"), std::string::npos);
}

}  // namespace
}  // namespace ballast::tools

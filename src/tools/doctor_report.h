#pragma once
// How `ballast doctor` prints its findings: a checklist for people (one line per check,
// "ok" / "warn" / "FAIL", the check's name and why, then its fix) or one JSON document.
// Thread-safe: pure functions.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/check_result.h"
#include "util/result.h"

namespace ballast::tools {

struct DoctorFindings {
  std::string mode;                  // "stopped" or "running"
  std::vector<std::string> context;  // header lines: what was checked, as whom
  std::vector<ops::CheckResult> checks;
  std::vector<std::string> changes;      // --fix: each change made
  std::vector<Error> fix_failures;       // --fix: repairs needed but not made
  std::vector<std::string> event_lines;  // running: the recent warn and error events, newest first
  nlohmann::json live;                   // running: the live status and stats; null when stopped
};

std::string doctor_text(const DoctorFindings& findings);
// {"mode", "context": [...], "checks": [{"name", "status", "class", "code", "message", "fix"}],
//  "changes": [...], "fix_failures": [{"code", "message", "fix"}], "live", "ok", "warn", "fail",
//  "passed"}. Absent values are null, never "": a check's class (ok lines), code (ok lines),
//  fix (ok lines), and live (a stopped broker). Counts are numbers; passed is a boolean (no
//  check failed).
nlohmann::json doctor_json(const DoctorFindings& findings);
// Whether any check failed.
bool any_failed(const DoctorFindings& findings);

}  // namespace ballast::tools

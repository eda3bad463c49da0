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
  std::vector<std::string> changes;  // --fix: each change made
  std::vector<Error> fix_failures;   // --fix: repairs needed but not made
};

std::string doctor_text(const DoctorFindings& findings);
// {"mode", "context": [...], "checks": [{"name", "status", "class", "code", "message", "fix"}],
//  "changes": [...], "fix_failures": [{"code", "message", "fix"}], "ok", "warn", "fail"}.
nlohmann::json doctor_json(const DoctorFindings& findings);
// Whether any check failed.
bool any_failed(const DoctorFindings& findings);

}  // namespace ballast::tools

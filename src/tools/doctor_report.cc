#include "tools/doctor_report.h"

#include <algorithm>

namespace ballast::tools {
namespace {

// The rest are in --json.
constexpr size_t kEventLinesShown = 10;

nlohmann::json text_or_null(std::string_view text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(text));
}

size_t count(const DoctorFindings& findings, ops::CheckStatus status) {
  return static_cast<size_t>(
      std::count_if(findings.checks.begin(), findings.checks.end(),
                    [status](const ops::CheckResult& check) { return check.status == status; }));
}

std::string check_line(const ops::CheckResult& check, size_t name_width) {
  const std::string_view status =
      check.status == ops::CheckStatus::kFail ? "FAIL" : ops::check_status_name(check.status);
  std::string why = check.message;
  if (check.code) why = fmt::format("{}: {}", error_code_name(*check.code), check.message);
  std::string line = fmt::format("{:<4}  {:<{}}  {}\n", status, check.name, name_width, why);
  if (!check.fix.empty()) line += fmt::format("{:<4}  {:<{}}  fix: {}\n", "", "", name_width, check.fix);
  return line;
}

}  // namespace

std::string doctor_text(const DoctorFindings& findings) {
  std::string text;
  for (const std::string& line : findings.context) text += line + "\n";
  for (const std::string& change : findings.changes) text += fmt::format("changed: {}\n", change);
  for (const Error& failure : findings.fix_failures) {
    text +=
        fmt::format("not fixed: {}: {}\n  fix: {}\n", failure.code_name(), failure.message(), failure.fix());
  }
  size_t name_width = 4;
  for (const auto& check : findings.checks) name_width = std::max(name_width, check.name.size());
  for (const auto& check : findings.checks) text += check_line(check, name_width);
  if (!findings.event_lines.empty()) {
    text += fmt::format("recent warn and error events, newest first (showing {} of {}):\n",
                        std::min(findings.event_lines.size(), kEventLinesShown), findings.event_lines.size());
    for (size_t n = 0; n < findings.event_lines.size() && n < kEventLinesShown; ++n) {
      text += fmt::format("      {}\n", findings.event_lines[n]);
    }
  }
  text += fmt::format("{} ok, {} warn, {} fail\n", count(findings, ops::CheckStatus::kOk),
                      count(findings, ops::CheckStatus::kWarn), count(findings, ops::CheckStatus::kFail));
  return text;
}

nlohmann::json doctor_json(const DoctorFindings& findings) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& check : findings.checks) {
    checks.push_back({{"name", check.name},
                      {"status", ops::check_status_name(check.status)},
                      {"class", text_or_null(ops::problem_class_name(check.problem_class))},
                      {"code", check.code ? nlohmann::json(error_code_name(*check.code)) : nlohmann::json()},
                      {"message", check.message},
                      {"fix", text_or_null(check.fix)}});
  }
  nlohmann::json failures = nlohmann::json::array();
  for (const Error& failure : findings.fix_failures) {
    failures.push_back(
        {{"code", failure.code_name()}, {"message", failure.message()}, {"fix", failure.fix()}});
  }
  return {{"mode", findings.mode},
          {"context", findings.context},
          {"checks", std::move(checks)},
          {"changes", findings.changes},
          {"fix_failures", std::move(failures)},
          {"live", findings.live},
          {"ok", count(findings, ops::CheckStatus::kOk)},
          {"warn", count(findings, ops::CheckStatus::kWarn)},
          {"fail", count(findings, ops::CheckStatus::kFail)},
          {"passed", !any_failed(findings)}};
}

bool any_failed(const DoctorFindings& findings) {
  return count(findings, ops::CheckStatus::kFail) > 0;
}

}  // namespace ballast::tools

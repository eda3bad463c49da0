#include "tools/doctor_command.h"

#include <ostream>

#include <CLI/CLI.hpp>

#include "ops/cgroup_memory.h"
#include "ops/data_dir_repair.h"
#include "ops/startup_checks.h"
#include "tools/doctor_report.h"
#include "tools/json_text.h"

namespace ballast::tools {
namespace {

std::optional<std::string> no_environment(const std::string&) {
  return std::nullopt;
}

ExitCode print_findings(const DoctorFindings& findings, const GlobalOptions& globals, Console& console) {
  if (globals.json_output) {
    console.out << json_text(doctor_json(findings)) << '\n';
  } else {
    console.out << doctor_text(findings);
  }
  console.out.flush();
  if (!console.out) return ExitCode::kRefused;
  return any_failed(findings) ? ExitCode::kCheckFailed : ExitCode::kOk;
}

std::vector<std::string> stopped_context(const ops::ConfigDraft& draft, const ops::StartupReport& report) {
  const std::string source = draft.config.config_file.empty() ? "no configuration file, defaults"
                                                              : "configuration " + draft.config.config_file;
  return {
      fmt::format("ballast doctor: stopped broker ({}), data directory {}", source, draft.config.data_dir),
      fmt::format("checking as user {} (uid {}), {}", report.user.name, report.user.uid, report.user_source)};
}

// One failing check per degraded part of a running broker.
std::vector<ops::CheckResult> live_checks(const nlohmann::json& health) {
  std::vector<ops::CheckResult> checks;
  const std::string status = health.value("status", "unknown");
  if (status == "ok") checks.push_back(ops::passed("live.health", "/healthz: status ok, nothing degraded"));
  const auto degraded = health.find("degraded");
  if (degraded == health.end() || !degraded->is_array()) return checks;
  for (const auto& part : *degraded) {
    const std::string code_name = part.value("code", "");
    const ErrorCode code = error_code_from_name(code_name).value_or(ErrorCode::kStorageIoError);
    ops::CheckResult check = ops::problem(
        "live." + part.value("component", std::string("broker")), ops::CheckStatus::kFail,
        Error(code, part.value("message", std::string()),
              fmt::format("see {} in docs/operations.md; new messages are refused until it clears",
                          code_name)));
    checks.push_back(std::move(check));
  }
  return checks;
}

ops::CheckResult stats_check(const Result<nlohmann::json>& stats) {
  if (!stats) return ops::problem("live.stats", ops::CheckStatus::kWarn, stats.error());
  return ops::passed(
      "live.stats",
      fmt::format("{} queues, {} messages ({} in flight), journal {} bytes in {} segments",
                  stats->value("queues", 0), stats->value("messages", 0), stats->value("in_flight", 0),
                  stats->value("journal_bytes", 0), stats->value("journal_segments", 0)));
}

}  // namespace

DoctorCommand::DoctorCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected)
    : globals_(globals) {
  CLI::App* doctor = app.add_subcommand(
      "doctor",
      "Check everything a broker depends on: a stopped one (--config / --data-dir, checked here as "
      "its user) or the running one at --server");
  doctor->add_option("--config", config_file_, "The stopped broker's TOML configuration file");
  doctor->add_option("--data-dir", data_dir_, "The stopped broker's storage.data_dir (overrides --config)");
  doctor->add_flag("--fix", fix_,
                   "Apply the safe fixes first (create the data directory, chown/chmod it to the "
                   "broker's user) and print each change");
  doctor->add_option("--cgroup-root", cgroup_root_, "Where the cgroup tree is mounted (tests)")
      ->default_str(ops::kDefaultCgroupRoot)
      ->group("");
  doctor->callback([this, &selected] {
    selected = [this](ApiClient& api, Console& console) {
      const bool stopped = !config_file_.empty() || !data_dir_.empty();
      return stopped ? check_stopped(console) : check_running(api, console);
    };
  });
}

ExitCode DoctorCommand::check_stopped(Console& console) const {
  ops::FlagValues flags;
  if (!data_dir_.empty()) flags["storage.data_dir"] = data_dir_;
  const ops::ConfigDraft draft = ops::load_config_draft(config_file_, flags, no_environment);
  ops::CheckOptions options;
  options.mode = ops::CheckMode::kDoctor;
  if (!cgroup_root_.empty()) options.cgroup_root = cgroup_root_;
  ops::StartupReport report = ops::run_startup_checks(draft, options);
  DoctorFindings findings;
  findings.mode = "stopped";
  if (fix_) {
    ops::RepairReport repair = ops::repair_data_dir(draft.config, report.user);
    findings.changes = std::move(repair.changes);
    findings.fix_failures = std::move(repair.failures);
    if (findings.changes.empty() && findings.fix_failures.empty())
      findings.changes.push_back("nothing to fix");
    report = ops::run_startup_checks(draft, options);
  }
  findings.context = stopped_context(draft, report);
  findings.checks = std::move(report.results);
  return print_findings(findings, globals_, console);
}

ExitCode DoctorCommand::check_running(ApiClient& api, Console& console) const {
  if (fix_) {
    return report_usage_error(Error(ErrorCode::kInvalidArgument, "--fix works on a stopped broker only",
                                    "stop ballastd, then run ballast doctor --fix --config FILE"),
                              console.err);
  }
  auto health = api.health();
  if (!health) return report_error(health.error(), console.err);
  DoctorFindings findings;
  findings.mode = "running";
  findings.context = {fmt::format("ballast doctor: running broker at {}", globals_.server)};
  findings.checks = live_checks(*health);
  findings.checks.push_back(stats_check(api.stats()));
  return print_findings(findings, globals_, console);
}

}  // namespace ballast::tools

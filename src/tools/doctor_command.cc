#include "tools/doctor_command.h"

#include <csignal>

#include <ostream>

#include <CLI/CLI.hpp>

#include "ops/cgroup_memory.h"
#include "ops/data_dir_repair.h"
#include "ops/startup_checks.h"
#include "tools/doctor_live.h"
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
  // The plug-in check starts each plug-in once; one that exits before reading its hello must
  // not end the doctor with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
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
  LiveFindings live;
  auto status = api.status();
  if (status) {
    live = live_findings(*status, api.stats());
  } else if (status.error().code() == ErrorCode::kNotFound) {
    auto health = api.health();
    if (!health) return report_error(health.error(), console.err);
    live = health_only_findings(*health, api.stats());
  } else {
    return report_error(status.error(), console.err);
  }
  DoctorFindings findings;
  findings.mode = "running";
  findings.context = {fmt::format("ballast doctor: running broker at {}", globals_.server)};
  findings.checks = std::move(live.checks);
  findings.event_lines = std::move(live.event_lines);
  findings.live = std::move(live.live);
  return print_findings(findings, globals_, console);
}

}  // namespace ballast::tools

#include "ops/startup_checks.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "ops/data_dir_checks.h"
#include "ops/listen_probe.h"
#include "ops/plugin_checks.h"
#include "ops/resource_checks.h"
#include "storage/data_dir_lock.h"

namespace ballast::ops {
namespace {

constexpr std::string_view kConfigFix =
    "correct each key named (docs/configuration.md lists every key, its range and default)";

void check_config(const ConfigDraft& draft, std::vector<CheckResult>& results) {
  for (const std::string& text : draft.problems) {
    results.push_back(problem("config", CheckStatus::kFail,
                              Error(ErrorCode::kConfigInvalid, text, std::string(kConfigFix))));
  }
  if (draft.problems.empty()) {
    const std::string source =
        draft.config.config_file.empty() ? "defaults, environment and flags" : draft.config.config_file;
    results.push_back(passed("config", fmt::format("configuration valid ({})", source)));
  }
}

// The broker's user: ballastd is it; the doctor checks for server.user, else for its caller.
void resolve_user(const Config& config, CheckMode mode, StartupReport& report) {
  report.user = current_identity();
  report.user_source = mode == CheckMode::kDaemon ? "the running user" : "the invoking user";
  if (config.user.empty()) {
    report.results.push_back(passed("user", fmt::format("checking as user {} (uid {}), {}", report.user.name,
                                                        report.user.uid, report.user_source)));
    return;
  }
  auto configured = identity_for_user(config.user);
  if (!configured) {
    report.results.push_back(problem("user", CheckStatus::kFail, configured.error()));
    return;
  }
  if (mode == CheckMode::kDoctor) {
    report.user = std::move(*configured);
    report.user_source = "server.user";
  } else if (configured->uid != report.user.uid) {
    report.results.push_back(
        problem("user", CheckStatus::kFail,
                Error(ErrorCode::kConfigInvalid,
                      fmt::format("server.user = {} (uid {}) but ballastd runs as {} (uid {})", config.user,
                                  configured->uid, report.user.name, report.user.uid),
                      fmt::format("start ballastd as {} (systemd: User={}), or correct server.user",
                                  configured->name, configured->name))));
    return;
  }
  report.results.push_back(passed("user", fmt::format("checking as user {} (uid {}), {}", report.user.name,
                                                      report.user.uid, report.user_source)));
}

void check_lock(const Config& config, DataDirState state, std::vector<CheckResult>& results) {
  if (state == DataDirState::kMissing) {
    results.push_back(passed("lock", "free (the data directory does not exist yet)"));
    return;
  }
  auto probed = storage::DataDirLock::probe(config.data_dir);
  if (probed) {
    results.push_back(passed("lock", fmt::format("{}/ballast.lock is free", config.data_dir)));
  } else if (probed.error().code() == ErrorCode::kDataDirLocked) {
    results.push_back(problem("lock", CheckStatus::kFail, probed.error()));
  } else if (state == DataDirState::kUsable) {
    results.push_back(problem("lock", CheckStatus::kFail, probed.error()));
  } else {
    // Already reported by the data_dir checks: say the lock was not checked, without counting
    // the same cause twice.
    results.push_back(problem("lock", CheckStatus::kWarn,
                              probed.error().with_context("not checked until the data directory is usable")));
  }
}

uint64_t unprivileged_port_start() {
  std::ifstream in("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  uint64_t start = 1024;
  if (!(in >> start)) start = 1024;
  return start;
}

void check_port(const std::string& text, std::string_view key, std::string name, CheckMode mode,
                const UserIdentity& user, std::vector<CheckResult>& results) {
  auto address = parse_listen_address(text, key);
  if (!address) return results.push_back(problem(name, CheckStatus::kFail, address.error()));
  if (address->port == "0") {
    return results.push_back(
        passed(name, fmt::format("{} = {}: the kernel picks a free port at start", key, text)));
  }
  const bool low_port = user.uid != 0 && std::stoull(address->port) < unprivileged_port_start();
  if (low_port && mode == CheckMode::kDoctor) {
    results.push_back(problem(name, CheckStatus::kWarn,
                              Error(ErrorCode::kListenFailed,
                                    fmt::format("{} = {}: port {} needs privilege, and {} is not root", key,
                                                text, address->port, user.name),
                                    "choose a port of 1024 or more, or grant CAP_NET_BIND_SERVICE (systemd: "
                                    "AmbientCapabilities=CAP_NET_BIND_SERVICE)"),
                              ProblemClass::kPermission));
  }
  auto bound = probe_listen(*address);
  if (!bound) {
    const ProblemClass problem_class = low_port ? ProblemClass::kPermission : ProblemClass::kListen;
    return results.push_back(problem(name, CheckStatus::kFail, bound.error(), problem_class));
  }
  if (!low_port || mode == CheckMode::kDaemon) {
    results.push_back(passed(name, fmt::format("{} = {} is free", key, text)));
  }
}

void check_ports(const Config& config, CheckMode mode, const UserIdentity& user,
                 std::vector<CheckResult>& results) {
  check_port(config.http_listen, "server.http_listen", "ports.http", mode, user, results);
  for (const std::string& address : to_amqp_options(config).listen) {
    check_port(address, "amqp.listen", "ports.amqp", mode, user, results);
  }
}

uint64_t soft_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return RLIM_INFINITY;
  return limit.rlim_cur;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

StartupReport run_startup_checks(const ConfigDraft& draft, const CheckOptions& options) {
  StartupReport report;
  const Config& config = draft.config;
  check_config(draft, report.results);
  resolve_user(config, options.mode, report);
  const DataDirState state = check_data_dir(config, report.user, report.results);
  check_file_system(config, report.results);
  check_lock(config, state, report.results);
  const bool daemon = options.mode == CheckMode::kDaemon;
  check_descriptors(
      config, options.open_file_limit.value_or(soft_open_file_limit()),
      daemon ? "ballastd's soft RLIMIT_NOFILE" : "this shell's soft RLIMIT_NOFILE; the service's may differ",
      report.results);
  check_memory(config, options.cgroup_root, read_text(options.proc_self_cgroup), report.results);
  check_ports(config, options.mode, report.user, report.results);
  check_plugins(config, daemon ? PluginProbe::kExecutableOnly : PluginProbe::kHandshake, report.results);
  return report;
}

}  // namespace ballast::ops

// ballastd: builds the broker and the HTTP front end from the configuration, then waits for
// signals (SIGTERM/SIGINT: drain and stop; SIGHUP: reload the reloadable keys).
// Before it opens the journal or listens, it runs the start-up checks (ops/startup_checks.h)
// and reports every problem at once. Configured plug-ins (docs/plugins.md) run under the plug-in
// host, which is the broker's publish filter; a plug-in that cannot start never stops ballastd.
// Exit statuses (docs/operations.md, "Start-up checks"): 0 stopped cleanly, 1 other, 2 usage,
// 73 resource shortage, 74 storage unusable, 75 data directory locked, 76 cannot listen,
// 77 permission denied, 78 configuration invalid.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <cstdlib>

#include "broker/broker.h"
#include "ops/cgroup_memory.h"
#include "ops/config.h"
#include "ops/startup_checks.h"
#include "plugins/plugin_host.h"
#include "protocol/http/http_server.h"
#include "protocol/net/blocked_publishers.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/recent_events.h"
#ifdef BALLAST_FAULT_INJECTION
#include "storage/fault_file_system.h"
#endif

namespace {

using namespace ballast;

constexpr const char* kVersion = "0.1.0";

int exit_status_for(ErrorCode code) {
  const int status = ops::exit_status_for_class(ops::problem_class_for(code));
  return status == 0 ? 1 : status;
}

void log_failure(std::string_view event, const Error& error) {
  log::event(
      log::Level::kError, event,
      {log::kv("code", error.code_name()), log::kv("message", error.message()), log::kv("fix", error.fix())});
}

std::optional<std::string> read_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

void apply_log_level(const ops::Config& config) {
  log::Level level = log::Level::kInfo;
  if (log::parse_level(config.log_level, level)) log::set_min_level(level);
}

void reload(const std::string& config_file, const ops::FlagValues& flags, ops::Config& current) {
  auto reloaded = ops::load_config(config_file, flags, read_environment);
  if (!reloaded) return log_failure("config.reload_failed", reloaded.error());
  std::vector<std::string> applied, ignored;
  for (const std::string& key : ops::changed_keys(current, *reloaded)) {
    (key == "server.log_level" ? applied : ignored).push_back(key);
  }
  if (!applied.empty()) {
    current.log_level = reloaded->log_level;
    apply_log_level(current);
  }
  log::event(
      log::Level::kInfo, "config.reloaded",
      {log::kv("applied", applied.empty() ? "none" : fmt::format("{}", fmt::join(applied, ","))),
       log::kv("need_restart", ignored.empty() ? "none" : fmt::format("{}", fmt::join(ignored, ",")))});
}

// Runs the start-up checks; logs each warning and each failure (R1: code, object, fix).
// Returns the exit status of the most urgent failing class, or 0 when ballastd may start.
int run_startup_checks(const ops::ConfigDraft& draft) {
  ops::CheckOptions options;
  options.mode = ops::CheckMode::kDaemon;
  options.cgroup_root = read_environment("BALLAST_CGROUP_ROOT").value_or(ops::kDefaultCgroupRoot);
  const ops::StartupReport report = ops::run_startup_checks(draft, options);
  for (const ops::CheckResult& result : report.results) {
    if (result.status == ops::CheckStatus::kOk) continue;
    const bool failed = result.status == ops::CheckStatus::kFail;
    log::event(
        failed ? log::Level::kError : log::Level::kWarn,
        failed ? "server.start_check_failed" : "server.start_check_warning",
        {log::kv("check", result.name), log::kv("class", ops::problem_class_name(result.problem_class)),
         log::kv("code", result.code ? error_code_name(*result.code) : "NONE"),
         log::kv("message", result.message), log::kv("fix", result.fix)});
  }
  const ops::ProblemClass failing = ops::first_failing_class(report.results);
  if (failing != ops::ProblemClass::kNone) {
    log::event(log::Level::kError, "server.start_refused",
               {log::kv("class", ops::problem_class_name(failing)),
                log::kv("exit_status", ops::exit_status_for_class(failing)),
                log::kv("user", fmt::format("{} (uid {})", report.user.name, report.user.uid))});
  }
  return ops::exit_status_for_class(failing);
}

// Test-only switches; only builds with BALLAST_FAULT_INJECTION have any.
struct TestHooks {
  std::string fault_plan;  // --fault-plan FILE (docs/fault-injection.md)
};

#ifdef BALLAST_FAULT_INJECTION
// The file layer under the journal fails the calls the plan file names, re-read as it changes.
std::unique_ptr<storage::FaultFileSystem> fault_layer(const TestHooks& hooks,
                                                      broker::BrokerOptions& options) {
  if (hooks.fault_plan.empty()) return nullptr;
  auto faults = std::make_unique<storage::FaultFileSystem>();
  faults->watch_plan_file(hooks.fault_plan);
  options.file_system = faults.get();
  return faults;
}
#endif

int serve(const std::string& config_file, const ops::FlagValues& flags, const TestHooks& hooks) {
  const ops::ConfigDraft draft = ops::load_config_draft(config_file, flags, read_environment);
  apply_log_level(draft.config);
  if (const int status = run_startup_checks(draft); status != 0) return status;
  ops::Config config = draft.config;
  log::event(log::Level::kInfo, "config.loaded",
             {log::kv("source",
                      config.config_file.empty() ? "defaults, environment and flags" : config.config_file)});
  broker::BrokerOptions broker_options = ops::to_broker_options(config);
#ifdef BALLAST_FAULT_INJECTION
  const auto faults = fault_layer(hooks, broker_options);  // outlives the broker
#endif
  auto broker = broker::Broker::open(broker_options);
  if (!broker) {
    log_failure("server.start_failed", broker.error());
    return exit_status_for(broker.error().code());
  }
  SystemClock clock;
  auto plugin_host = std::make_unique<plugins::PluginHost>(clock);
  // The host is the filter before the broker runs; it answers calls (with each attachment's
  // policy) even before its plug-ins have handshaken.
  (*broker)->set_publish_filter(plugin_host.get());
  (*broker)->set_store_triggers(plugin_host.get());
  if (auto started = plugin_host->start(config.plugins, (*broker)->recovered_plugin_settings()); !started) {
    log_failure("server.start_failed", started.error());
    return exit_status_for(started.error().code());
  }
  (*broker)->run();
  plugin_host->run(**broker);
  // The AMQP front end lists the publishers it blocks here; GET /api/v1/status reads them.
  net::BlockedPublishers blocked_publishers;
  auto server = http::HttpServer::start(
      ops::to_http_options(config), **broker,
      http::LiveSources{blocked_publishers, log::recent_fault_events(), clock, plugin_host.get()});
  if (!server) {
    log_failure("server.start_failed", server.error());
    plugin_host->stop();
    (*broker)->stop();
    return exit_status_for(server.error().code());
  }
  const auto amqp_options = ops::to_amqp_options(config);
  std::unique_ptr<amqp::AmqpServer> amqp_server;
  if (!amqp_options.listen.empty()) {
    auto started = amqp::AmqpServer::start(amqp_options, **broker, blocked_publishers);
    if (!started) {
      log_failure("server.start_failed", started.error());
      (*server)->stop();
      plugin_host->stop();
      (*broker)->stop();
      return exit_status_for(started.error().code());
    }
    amqp_server = std::move(*started);
  }
  const std::string amqp_addresses =
      amqp_server ? fmt::format("{}", fmt::join(amqp_server->bound_addresses(), ",")) : "off";
  log::event(log::Level::kInfo, "server.ready",
             {log::kv("http", (*server)->bound_address()), log::kv("amqp", amqp_addresses),
              log::kv("data_dir", config.data_dir), log::kv("sync_mode", config.sync_mode),
              log::kv("plugins", config.plugins.size()), log::kv("version", kVersion)});
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signal_number);
  while (true) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received == SIGHUP) {
      reload(config_file, flags, config);
      continue;
    }
    log::event(log::Level::kInfo, "server.stopping", {log::kv("signal", strsignal(received))});
    break;
  }
  // Front ends first (no new publishes), then the plug-ins (their pending calls are answered by
  // policy), then the broker (which still holds the filter pointer until it stops).
  if (amqp_server) amqp_server->stop();
  (*server)->stop();
  plugin_host->stop();
  (*broker)->stop();
  amqp_server.reset();
  server->reset();
  log::event(log::Level::kInfo, "server.stopped", {});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the signals before any thread starts, so that only sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signal_number);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"ballastd: the Ballast message-queuing server"};
  app.footer(
      "Before it listens, ballastd checks the configuration, the data directory, free space, the "
      "open-file and memory limits, the lock and the ports, and reports every problem at once.\n"
      "Exit statuses: 0 stopped cleanly, 1 other failure, 2 usage, 73 resource shortage (descriptors, "
      "memory, disk), 74 storage unusable (I/O, read-only, not a directory), 75 data directory locked "
      "by another ballastd, 76 cannot listen (port in use), 77 permission denied, 78 configuration "
      "invalid. Details: docs/operations.md; every key: docs/configuration.md.");
  std::string config_file;
  ops::FlagValues flags;
  std::string data_dir, http_listen, segment_size, sync_mode, log_level;
  std::vector<std::string> amqp_listen;
  bool insecure_remote = false;
  app.add_option("--config", config_file, "TOML configuration file (or BALLAST_CONFIG)");
  app.add_option("--data-dir", data_dir, "storage.data_dir");
  app.add_option("--http-listen", http_listen, "server.http_listen, HOST:PORT (port 0 picks one)");
  app.add_option("--amqp-listen", amqp_listen,
                 "amqp.listen, HOST:PORT or [IPV6]:PORT; repeat for several (port 0 picks one)");
  app.add_option("--segment-size", segment_size, "storage.segment_size in bytes");
  app.add_option("--sync-mode", sync_mode, "storage.sync_mode: always | interval");
  app.add_option("--log-level", log_level, "server.log_level: trace | debug | info | warn | error");
  app.add_flag("--insecure-remote", insecure_remote,
               "allow a non-loopback listen address (server.insecure_remote)");
  app.set_version_flag("--version", std::string("ballastd ") + kVersion);
  TestHooks hooks;
#ifdef BALLAST_FAULT_INJECTION
  app.add_option("--fault-plan", hooks.fault_plan,
                 "test builds only: inject the storage faults this file names, re-read as it changes")
      ->group("");  // hidden: docs/fault-injection.md
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {  // CLI11 reports usage errors and --help by throwing
    return app.exit(error) == 0 ? 0 : 2;
  }
  for (const auto& [key, value] :
       {std::pair{"storage.data_dir", data_dir}, std::pair{"server.http_listen", http_listen},
        std::pair{"storage.segment_size", segment_size}, std::pair{"storage.sync_mode", sync_mode},
        std::pair{"server.log_level", log_level}}) {
    if (!value.empty()) flags[key] = value;
  }
  if (insecure_remote) flags["server.insecure_remote"] = "true";
  if (!amqp_listen.empty()) flags["amqp.listen"] = fmt::format("{}", fmt::join(amqp_listen, ","));
  return serve(config_file, flags, hooks);
}

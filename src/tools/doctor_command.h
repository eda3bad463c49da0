#pragma once
// `ballast doctor`: checks everything a broker depends on and prints a checklist (ok / warn /
// fail, why, fix), or one JSON document with --json.
//  - With --config FILE and/or --data-dir DIR it checks a STOPPED broker locally, with the
//    same checks ballastd runs at start (ops/startup_checks.h), as the broker's user:
//    server.user from the file, else the invoking user (the output says which). The
//    environment's BALLAST_* settings are not applied: the service's environment is not this
//    shell's. --fix first applies the safe repairs (ops/data_dir_repair.h) and prints each
//    change.
//  - Without them it asks the RUNNING ballastd at --server (/api/v1/status, /api/v1/stats;
//    /healthz from an older one): degraded parts and damaged queues fail, blocked publishers
//    and recent fault events warn (tools/doctor_live.h).
// Exit status: kOk when no check fails, kCheckFailed when one does, kUnreachable when the
// server cannot be reached.
// The constructor registers the subcommand on `app`; when it is parsed, its action is stored
// in `selected`. `app`, `globals` and `selected` must outlive this object, and its callbacks
// refer to it, so it is neither copied nor moved.
// Not thread-safe: owned by one run_cli() call.

#include <string>

#include "tools/command_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ballast::tools {

class DoctorCommand {
 public:
  DoctorCommand(CLI::App& app, const GlobalOptions& globals, CommandAction& selected);
  DoctorCommand(const DoctorCommand&) = delete;
  DoctorCommand& operator=(const DoctorCommand&) = delete;

 private:
  ExitCode check_stopped(Console& console) const;
  ExitCode check_running(ApiClient& api, Console& console) const;

  const GlobalOptions& globals_;
  std::string config_file_;
  std::string data_dir_;
  std::string cgroup_root_;
  bool fix_ = false;
};

}  // namespace ballast::tools

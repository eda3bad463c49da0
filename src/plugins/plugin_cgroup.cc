#include "plugins/plugin_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "util/proc_cgroup.h"

namespace ballast::plugins {

namespace {

constexpr uint64_t kCpuPeriodUs = 100000;

// One limit a [[plugins]] key asks for.
struct WantedLimit {
  std::string_view controller;  // "memory", "pids", "cpu"
  std::string_view key;
  uint64_t value;
};

struct LimitFile {
  std::string name;   // e.g. "memory.max"
  std::string value;  // what is written to it
  std::string_view key;
  uint64_t key_value;
};

// One directory to create: its parent, the controllers its parent must hand down (v2 only) and
// the limits written into it.
struct Placement {
  std::filesystem::path parent;
  std::vector<std::string_view> controllers;
  std::vector<WantedLimit> wanted;
  std::vector<LimitFile> limits;
};

std::string table_of(const PluginConfig& config) {
  return fmt::format("the [[plugins]] table with name = \"{}\"", config.name);
}

Error unavailable(const PluginConfig& config, std::string message, std::string fix) {
  return Error(ErrorCode::kPluginUnavailable, fmt::format("plug-in \"{}\": {}", config.name, message),
               std::move(fix));
}

std::vector<WantedLimit> wanted_limits(const PluginConfig& config) {
  std::vector<WantedLimit> wanted;
  if (config.cgroup_memory_max_bytes != 0)
    wanted.push_back({"memory", "cgroup_memory_max_bytes", config.cgroup_memory_max_bytes});
  if (config.cgroup_pids_max != 0) wanted.push_back({"pids", "cgroup_pids_max", config.cgroup_pids_max});
  if (config.cgroup_cpu_max_percent != 0)
    wanted.push_back({"cpu", "cgroup_cpu_max_percent", config.cgroup_cpu_max_percent});
  return wanted;
}

// "cgroup_memory_max_bytes = 67108864, cgroup_pids_max = 32".
std::string keys_text(const std::vector<WantedLimit>& wanted) {
  std::string text;
  for (const WantedLimit& limit : wanted) {
    text += fmt::format("{}{} = {}", text.empty() ? "" : ", ", limit.key, limit.value);
  }
  return text;
}

std::string remove_keys_fix(const PluginConfig& config, const std::vector<WantedLimit>& wanted) {
  std::string keys;
  for (const WantedLimit& limit : wanted) keys += fmt::format("{}{}", keys.empty() ? "" : ", ", limit.key);
  return fmt::format(
      "or remove {} from {} to run it without a cgroup; the broker retries the start with "
      "back-off",
      keys, table_of(config));
}

std::vector<LimitFile> limit_files(int version, const WantedLimit& limit) {
  const std::string value = fmt::format("{}", limit.value);
  const uint64_t quota_us = limit.value * kCpuPeriodUs / 100;
  if (limit.controller == "memory") {
    return {{version == 2 ? "memory.max" : "memory.limit_in_bytes", value, limit.key, limit.value}};
  }
  if (limit.controller == "pids") return {{"pids.max", value, limit.key, limit.value}};
  if (version == 2) {
    return {{"cpu.max", fmt::format("{} {}", quota_us, kCpuPeriodUs), limit.key, limit.value}};
  }
  return {{"cpu.cfs_period_us", fmt::format("{}", kCpuPeriodUs), limit.key, limit.value},
          {"cpu.cfs_quota_us", fmt::format("{}", quota_us), limit.key, limit.value}};
}

bool marked_delegated(const std::filesystem::path& directory) {
  for (const char* name : {"trusted.delegate", "user.delegate"}) {
    char value[2] = {};
    if (::getxattr(directory.c_str(), name, value, sizeof value) == 1 && value[0] == '1') return true;
  }
  return false;
}

// The v2 parent: the broker's cgroup, or the delegated cgroup whose leaf the broker runs in.
std::filesystem::path v2_parent(const std::filesystem::path& root, const std::string& path) {
  const std::filesystem::path own = root / std::filesystem::path(path).relative_path();
  const std::filesystem::path above = own.lexically_normal().parent_path();
  if (path != "/" && !marked_delegated(own) && marked_delegated(above)) return above;
  return own;
}

Result<std::vector<Placement>> plan_v2(const PluginConfig& config, const CgroupHost& host,
                                       const std::vector<WantedLimit>& wanted) {
  auto path = proc_cgroup_path(host.proc_self_cgroup, "");
  if (!path) {
    return unavailable(
        config,
        fmt::format("cannot place it in a cgroup for {}: {}/cgroup.controllers says cgroup v2, but "
                    "/proc/self/cgroup has no \"0::\" line for the broker",
                    keys_text(wanted), host.root.string()),
        fmt::format("run the broker in a cgroup v2 hierarchy mounted at {}, {}", host.root.string(),
                    remove_keys_fix(config, wanted)));
  }
  Placement placement{v2_parent(host.root, *path), {}, wanted, {}};
  for (const WantedLimit& limit : wanted) {
    placement.controllers.push_back(limit.controller);
    for (LimitFile& file : limit_files(2, limit)) placement.limits.push_back(std::move(file));
  }
  return std::vector<Placement>{std::move(placement)};
}

Result<std::vector<Placement>> plan_v1(const PluginConfig& config, const CgroupHost& host,
                                       const std::vector<WantedLimit>& wanted) {
  std::vector<Placement> placements;
  for (const WantedLimit& limit : wanted) {
    auto path = proc_cgroup_path(host.proc_self_cgroup, limit.controller);
    const std::filesystem::path hierarchy = host.root / std::string(limit.controller);
    if (!path) {
      return unavailable(
          config,
          fmt::format("cannot place it in a cgroup for {} = {}: the cgroup v1 \"{}\" controller is not "
                      "mounted for the broker (no \"{}\" line in /proc/self/cgroup, and no cgroup v2 at {})",
                      limit.key, limit.value, limit.controller, limit.controller, host.root.string()),
          fmt::format("mount the {} controller (cgroup v2 at {}, or v1 at {}), {}", limit.controller,
                      host.root.string(), hierarchy.string(), remove_keys_fix(config, {limit})));
    }
    const std::filesystem::path parent = (hierarchy / std::filesystem::path(*path).relative_path());
    placements.push_back(Placement{parent.lexically_normal(), {}, {limit}, limit_files(1, limit)});
  }
  return placements;
}

Result<std::vector<Placement>> plan_for(const PluginConfig& config, const CgroupHost& host) {
  const std::vector<WantedLimit> wanted = wanted_limits(config);
  if (std::filesystem::exists(host.root / "cgroup.controllers")) return plan_v2(config, host, wanted);
  return plan_v1(config, host, wanted);
}

std::filesystem::path directory_of(const PluginConfig& config, const Placement& placement) {
  const std::filesystem::path parent =
      placement.parent.filename().empty() ? placement.parent.parent_path() : placement.parent;
  return parent / ("ballast-plugin-" + config.name);
}

// Writes `value` to `path` as the kernel's cgroup files want it: one write on an open file,
// whose errno says why the kernel refused it. Returns 0 or the errno.
int write_file(const std::filesystem::path& path, std::string_view value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC);
  if (fd < 0) return errno;
  const ssize_t written = ::write(fd, value.data(), value.size());
  const int error = written == static_cast<ssize_t>(value.size()) ? 0 : (written < 0 ? errno : EIO);
  ::close(fd);
  return error;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The parent pid of `pid` (field 4 of /proc/<pid>/stat, after the parenthesised name), or 0.
pid_t parent_of(pid_t pid) {
  const std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string state;
  long parent = 0;
  fields >> state >> parent;
  return static_cast<pid_t>(parent);
}

// SIGKILLs the leftovers in `directory` unless a live plug-in process of this broker (one of its
// own children: the process a reload or a restart starts beside the one still running or
// stopping shares the cgroup with it) is in it; then nothing is killed, since every other
// process there may be that one's descendant (a command-trigger's command). Leftovers are the
// processes of a plug-in process that is gone (a crashed broker's, or the descendants of the
// process just reaped). Whether such a child is in it.
bool kill_leftovers_in(const std::filesystem::path& directory) {
  std::vector<pid_t> others;
  std::istringstream pids(read_file(directory / "cgroup.procs"));
  for (long pid = 0; pids >> pid;) {
    if (pid <= 1 || pid == ::getpid()) continue;
    if (parent_of(static_cast<pid_t>(pid)) == ::getpid()) return true;
    others.push_back(static_cast<pid_t>(pid));
  }
  for (pid_t pid : others) ::kill(pid, SIGKILL);
  return false;
}

// Removes `directory` once the processes just killed in it have left, waiting at most
// kLeaveMs (SIGKILLed processes leave within milliseconds). Whether it is gone.
bool remove_when_empty(const std::filesystem::path& directory) {
  constexpr int kLeaveMs = 100;
  for (int waited_ms = 0;; waited_ms += 2) {
    if (::rmdir(directory.c_str()) == 0 || errno == ENOENT) return true;
    if (errno != EBUSY || waited_ms >= kLeaveMs) return false;
    ::usleep(2000);  // bounded: a condition polled with a deadline
  }
}

// Creates `directory` afresh: a leftover of the same name is emptied and removed first, or kept
// (its limits are rewritten next) while the kernel still holds it busy or it holds the running
// process of the same plug-in (a reload).
Status make_directory(const PluginConfig& config, const Placement& placement,
                      const std::filesystem::path& directory) {
  if (::mkdir(directory.c_str(), 0755) == 0) return ok_status();
  int error = errno;
  if (error == EEXIST) {
    const bool shared = kill_leftovers_in(directory);  // a live process of the plug-in is in it: reused
    if (!shared && remove_when_empty(directory) && ::mkdir(directory.c_str(), 0755) == 0) return ok_status();
    error = errno;
    struct stat info {};
    if (::stat(directory.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) return ok_status();
  }
  return unavailable(
      config,
      fmt::format("cannot create its cgroup {} for {}: {}", directory.string(), keys_text(placement.wanted),
                  strerrordesc_np(error)),
      fmt::format("let the broker create cgroups under {} (run ballastd as root on a writable cgroup mount, "
                  "or under systemd with Delegate=yes), {}",
                  placement.parent.string(), remove_keys_fix(config, placement.wanted)));
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream words(text);
  std::vector<std::string> result;
  for (std::string word; words >> word;) result.push_back(word);
  return result;
}

bool contains(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// v2: the controllers must be offered to the parent and enabled in its cgroup.subtree_control.
Status check_controllers_offered(const PluginConfig& config, const Placement& placement) {
  const std::filesystem::path offered_file = placement.parent / "cgroup.controllers";
  const std::vector<std::string> offered = words_of(read_file(offered_file));
  for (const WantedLimit& limit : placement.wanted) {
    if (contains(offered, limit.controller)) continue;
    return unavailable(
        config,
        fmt::format("cannot limit it with {} = {}: the {} controller is not offered to the broker's cgroup "
                    "{} (its cgroup.controllers reads \"{}\")",
                    limit.key, limit.value, limit.controller, placement.parent.string(),
                    fmt::join(offered, " ")),
        fmt::format("run ballastd under systemd with Delegate=yes (which hands it the memory, pids and cpu "
                    "controllers), or enable {} in cgroup.subtree_control of each cgroup above {}, {}",
                    limit.controller, placement.parent.string(), remove_keys_fix(config, {limit})));
  }
  return ok_status();
}

Status enable_controllers(const PluginConfig& config, const Placement& placement) {
  const std::filesystem::path subtree_file = placement.parent / "cgroup.subtree_control";
  const std::vector<std::string> enabled = words_of(read_file(subtree_file));
  std::string missing;
  for (std::string_view controller : placement.controllers) {
    if (!contains(enabled, controller))
      missing += fmt::format("{}+{}", missing.empty() ? "" : " ", controller);
  }
  if (missing.empty()) return ok_status();
  const int error = write_file(subtree_file, missing);
  if (error == 0) return ok_status();
  const std::string cause =
      error == EBUSY ? fmt::format(
                           " (cgroup v2 hands controllers to child cgroups only from a cgroup that "
                           "holds no process itself, the \"no internal processes\" rule, and {} "
                           "holds the broker)",
                           placement.parent.string())
                     : std::string();
  return unavailable(
      config,
      fmt::format("cannot enable \"{}\" in {} for {}: {}{}", missing, subtree_file.string(),
                  keys_text(placement.wanted), strerrordesc_np(error), cause),
      fmt::format(
          "run ballastd under systemd with Delegate=yes and DelegateSubgroup=ballastd (systemd 254 or "
          "later), so the broker runs in a leaf and its plug-ins' cgroups go beside it in the "
          "delegated cgroup, {}",
          remove_keys_fix(config, placement.wanted)));
}

Status write_limits(const PluginConfig& config, const Placement& placement,
                    const std::filesystem::path& directory) {
  for (const LimitFile& limit : placement.limits) {
    const std::filesystem::path path = directory / limit.name;
    const int error = write_file(path, limit.value);
    if (error == 0) continue;
    return unavailable(
        config,
        fmt::format("cannot write \"{}\" to {} for {} = {}: {}", limit.value, path.string(), limit.key,
                    limit.key_value, strerrordesc_np(error)),
        fmt::format("give {} a value the kernel accepts and make {} writable by the broker, {}", limit.key,
                    path.string(), remove_keys_fix(config, placement.wanted)));
  }
  return ok_status();
}

Status check_parent_writable(const PluginConfig& config, const Placement& placement) {
  if (::access(placement.parent.c_str(), W_OK) == 0) return ok_status();
  const int error = errno;
  return unavailable(
      config,
      fmt::format("cannot create its cgroup under {} for {}: {}", placement.parent.string(),
                  keys_text(placement.wanted), strerrordesc_np(error)),
      fmt::format("let the broker create cgroups under {} (run ballastd as root on a writable cgroup mount, "
                  "or under systemd with Delegate=yes), {}",
                  placement.parent.string(), remove_keys_fix(config, placement.wanted)));
}

}  // namespace

CgroupHost CgroupHost::of_this_process() {
  return CgroupHost{"/sys/fs/cgroup", read_file("/proc/self/cgroup")};
}

Result<PluginCgroup> PluginCgroup::create(const PluginConfig& config, const CgroupHost& host) {
  BALLAST_CHECK(config.wants_cgroup(), "plug-in {} has no cgroup_* key set", config.name);
  auto placements = plan_for(config, host);
  if (!placements) return placements.error();
  PluginCgroup cgroup;
  cgroup.plugin_name_ = config.name;
  for (const Placement& placement : *placements) {
    Status ready = placement.controllers.empty() ? ok_status() : check_controllers_offered(config, placement);
    if (ready && !placement.controllers.empty()) ready = enable_controllers(config, placement);
    const std::filesystem::path directory = directory_of(config, placement);
    if (ready) ready = make_directory(config, placement, directory);
    if (ready) {
      cgroup.directories_.push_back(directory);
      cgroup.procs_files_.push_back((directory / "cgroup.procs").string());
      ready = write_limits(config, placement, directory);
    }
    if (!ready) {
      cgroup.remove().ignore("the error that stopped the start is the one reported");
      return ready.error();
    }
  }
  return cgroup;
}

Status PluginCgroup::check_parents(const PluginConfig& config, const CgroupHost& host) {
  auto placements = plan_for(config, host);
  if (!placements) return placements.error();
  for (const Placement& placement : *placements) {
    if (auto writable = check_parent_writable(config, placement); !writable) return writable;
    if (placement.controllers.empty()) continue;
    if (auto offered = check_controllers_offered(config, placement); !offered) return offered;
  }
  return ok_status();
}

Error PluginCgroup::join_failed(const PluginConfig& config, size_t index, int error_number) const {
  const std::string& file = procs_files_.at(index);
  return unavailable(
      config,
      fmt::format("its process could not join its cgroup: writing \"0\" to {} failed: {}", file,
                  strerrordesc_np(error_number)),
      fmt::format("make {} writable by the broker (run ballastd as root on a writable cgroup mount, or under "
                  "systemd with Delegate=yes), {}",
                  file, remove_keys_fix(config, wanted_limits(config))));
}

Status PluginCgroup::remove() {
  Status result = ok_status();
  std::vector<std::filesystem::path> kept;
  for (const std::filesystem::path& directory : directories_) {
    if (::rmdir(directory.c_str()) == 0 || errno == ENOENT) continue;
    // Another process of the plug-in (a reload's) still runs in it and removes it when reaped.
    if (kill_leftovers_in(directory)) continue;
    if (remove_when_empty(directory)) continue;
    const int error = errno;
    kept.push_back(directory);
    if (!result) continue;
    result = Error(ErrorCode::kPluginUnavailable,
                   fmt::format("plug-in \"{}\": cannot remove its cgroup {}: {}", plugin_name_,
                               directory.string(), strerrordesc_np(error)),
                   "nothing to do if its last processes were still exiting: the plug-in's next start "
                   "replaces the directory; otherwise kill the processes listed in its cgroup.procs");
  }
  directories_ = kept;
  procs_files_.clear();
  for (const std::filesystem::path& directory : kept)
    procs_files_.push_back((directory / "cgroup.procs").string());
  return result;
}

}  // namespace ballast::plugins

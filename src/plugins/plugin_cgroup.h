#pragma once
// The cgroup of one plug-in process (docs/plugins.md, "Cgroups"). When a [[plugins]] table sets
// any cgroup_* key, its process runs in a cgroup "ballast-plugin-<name>" of its own with those
// limits written, created under the broker's own cgroup (from /proc/self/cgroup):
// - cgroup v2, a unified hierarchy at the root (it has cgroup.controllers): one directory with
//   memory.max, pids.max and cpu.max; the controllers are enabled in the parent's
//   cgroup.subtree_control first. When the broker runs in a leaf of a cgroup that systemd
//   delegated (Delegate=yes with DelegateSubgroup=, which marks the delegated cgroup with the
//   xattr trusted.delegate or user.delegate = "1"), the parent is that delegated cgroup, because
//   the broker's own leaf holds a process and so cannot hand controllers to children.
// - cgroup v1, one hierarchy per controller at <root>/memory, <root>/pids, <root>/cpu: one
//   directory in each hierarchy whose limit is set, with memory.limit_in_bytes, pids.max and
//   cpu.cfs_quota_us over cpu.cfs_period_us = 100000.
// A directory of the same name left by a broker that crashed is emptied (its processes are
// killed) and replaced; if the kernel still holds it busy, it is reused with the limits written
// anew. The broker's own children in it are never killed: during a reload the new process of a
// plug-in joins the cgroup of the running one, and whichever is reaped last removes it.
//
// Ownership: a PluginCgroup owns its directories from create() until remove() succeeds; it does
// not remove them on destruction (its PluginProcess removes them once its process is reaped).
// Not thread-safe: the owning PluginProcess (its supervisor) serializes calls. Every function
// only reads and writes files under the cgroup root and signals processes found in the cgroup.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/plugin_config.h"
#include "util/result.h"

namespace ballast::plugins {

// Where this process's cgroups are: the mount root and the text of /proc/self/cgroup
// ("0::/path" for v2, "N:controller[,controller]:/path" for v1). Tests point root at a fake tree.
struct CgroupHost {
  std::filesystem::path root = "/sys/fs/cgroup";
  std::string proc_self_cgroup;

  // The real root and this process's /proc/self/cgroup (empty text if it cannot be read, which
  // create() then reports).
  static CgroupHost of_this_process();
};

class PluginCgroup {
 public:
  // Creates the cgroup of `config` (precondition: config.wants_cgroup()) and writes its limits.
  // Fails with PLUGIN_UNAVAILABLE naming the plug-in, the exact path, the errno text, the config
  // key and the fix when a directory cannot be created, a controller cannot be enabled or a
  // limit cannot be written; nothing it created is left behind then.
  static Result<PluginCgroup> create(const PluginConfig& config, const CgroupHost& host);

  // Checks, without creating anything, that the directories under which create() would make
  // the cgroup of `config` exist and are writable (and, for v2, offer the controllers). Fails
  // with PLUGIN_UNAVAILABLE as create() does. For the start-up and doctor checks.
  static Status check_parents(const PluginConfig& config, const CgroupHost& host);

  PluginCgroup(PluginCgroup&&) noexcept = default;
  PluginCgroup& operator=(PluginCgroup&&) noexcept = default;
  PluginCgroup(const PluginCgroup&) = delete;
  ~PluginCgroup() = default;

  // The cgroup.procs files, one per directory: a process joins the cgroup by writing "0" to
  // each. The strings live as long as this object (a forked child uses their c_str()).
  const std::vector<std::string>& procs_files() const { return procs_files_; }
  const std::vector<std::filesystem::path>& directories() const { return directories_; }
  const std::string& plugin_name() const { return plugin_name_; }

  // The error for a child that could not join: writing "0" to procs_files()[index] failed with
  // `error_number`. PLUGIN_UNAVAILABLE naming the plug-in, the file, the errno text and the fix.
  Error join_failed(const PluginConfig& config, size_t index, int error_number) const;

  // Kills any process still in the cgroup (a plug-in's own child that outlived it) and removes
  // the directories; call once the plug-in's process has been reaped. A directory that still
  // holds another child of the broker (a reload's process of the same plug-in) is left to it. Fails with
  // PLUGIN_UNAVAILABLE naming the directory and the errno text when one stays (for instance
  // busy while its last processes exit); the next create() for the plug-in replaces it.
  Status remove();

 private:
  PluginCgroup() = default;

  std::string plugin_name_;
  std::vector<std::filesystem::path> directories_;
  std::vector<std::string> procs_files_;
};

}  // namespace ballast::plugins

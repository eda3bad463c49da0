#pragma once
// A fault plan: the text form of FaultFileSystem's standing faults, so that a test can switch
// I/O errors on and off in a running ballastd built with BALLAST_FAULT_INJECTION
// (docs/fault-injection.md). Test-only: the release build has no way to load one.
//
// Format: one rule per line, `<operation> <file-name-glob> <errno-name>`, e.g.
//   sync *.seg EIO
//   write *.seg EIO
// Operations: open write sync allocate truncate rename remove sync_directory create_directory.
// The glob (fnmatch) is matched against the file name only. Errno names: EIO ENOSPC EACCES
// EPERM EROFS EDQUOT. Blank lines and lines starting with '#' are ignored; an empty plan
// injects nothing.
// Thread-safety: parse_fault_plan is a pure function; a FaultPlanFile is not thread-safe (its
// owner serializes calls).

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/fault_file_system.h"
#include "util/result.h"

namespace ballast::storage {

// Parses a plan; INVALID_ARGUMENT naming the line on a bad rule.
Result<std::vector<FaultRule>> parse_fault_plan(std::string_view text);

// The rule as a plan line, e.g. "sync *.seg EIO".
std::string describe_fault_rule(const FaultRule& rule);

// Watches a plan file and hands out its rules each time it changes (by inode, size and
// modification time: a test replaces it with a rename). A missing file is an empty plan.
class FaultPlanFile {
 public:
  explicit FaultPlanFile(std::filesystem::path path) : path_(std::move(path)) {}
  // The new rules if the file changed since the last call (an error if it cannot be read or
  // parsed), nullopt if it did not change.
  std::optional<Result<std::vector<FaultRule>>> reload_if_changed();
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Version {
    ino_t inode = 0;
    off_t size = -1;
    int64_t modified_ns = -1;
    bool operator==(const Version&) const = default;
  };
  std::filesystem::path path_;
  std::optional<Version> seen_;
};

}  // namespace ballast::storage

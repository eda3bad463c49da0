#pragma once
// `ballast doctor --fix`: the safe repairs of a stopped broker's data directory, and nothing
// else. It creates storage.data_dir when it is missing, and gives the data directory,
// journal/, journal/free/ and the files directly in them that `user` may not use back to
// `user` (chown to its uid and primary group, then chmod u+rw, u+x on directories). It never
// touches anything outside the data directory (a parent the user cannot enter is left for
// the operator), never deletes, and never edits ACLs (once the user owns a file, the owner's
// mode bits decide). Changing the owner needs root; without it the repair says so.
// Thread-safe: changes the file system only.

#include <string>
#include <vector>

#include "ops/config.h"
#include "ops/user_access.h"
#include "util/result.h"

namespace ballast::ops {

struct RepairReport {
  std::vector<std::string> changes;  // one sentence per change made, e.g. "chown nobody:nogroup DIR"
  std::vector<Error> failures;       // repairs that were needed but could not be made
};

RepairReport repair_data_dir(const Config& config, const UserIdentity& user);

}  // namespace ballast::ops

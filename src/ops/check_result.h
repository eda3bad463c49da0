#pragma once
// The outcome of one start-up check (ballastd) or doctor check (`ballast doctor`), and how a
// failing check's class of problem maps to ballastd's exit status (docs/operations.md,
// "Start-up checks"). Permission problems and resource shortages are separate classes, so a
// denied path is never reported as a shortage and a shortage never as a permission problem.
// Thread-safe: plain values and pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error_code.h"
#include "util/result.h"

namespace ballast::ops {

enum class CheckStatus { kOk, kWarn, kFail };

// Ordered by precedence: when checks of several classes fail, ballastd exits with the status
// of the first class in this order.
enum class ProblemClass {
  kNone,        // an ok line
  kConfig,      // 78: a key is unknown, mistyped or out of range; server.user mismatch
  kPermission,  // 77: owner, mode or ACL deny the broker's user; binding a port is not allowed
  kStorage,     // 74: not a directory, read-only file system, I/O error
  kLocked,      // 75: another ballastd holds the data directory (DATA_DIR_LOCKED)
  kResource,    // 73: free space, open-file limit, memory limit below what the config needs
  kListen,      // 76: a listen address is in use or cannot be bound
};

struct CheckResult {
  std::string name;  // stable, e.g. "data_dir.access", "ports.http"
  CheckStatus status = CheckStatus::kOk;
  ProblemClass problem_class = ProblemClass::kNone;
  std::optional<ErrorCode> code;  // set for warn and fail
  std::string message;            // why: the exact object, observed value and limit
  std::string fix;                // empty for ok lines
};

// An ok line.
CheckResult passed(std::string name, std::string message);
// A warn or fail line carrying `error`'s code, message and fix, in `problem_class` (by default
// the class of the error's code, problem_class_for()).
CheckResult problem(std::string name, CheckStatus status, const Error& error,
                    std::optional<ProblemClass> problem_class = std::nullopt);

// "ok", "warn", "fail".
std::string_view check_status_name(CheckStatus status);
// "config", "permission", "storage", "locked", "resource", "listen"; "" for kNone.
std::string_view problem_class_name(ProblemClass problem_class);
// ballastd's exit status for a failing check of this class (0 for kNone).
int exit_status_for_class(ProblemClass problem_class);
// The class an error code belongs to when it stops ballastd (e.g. from the broker's open).
ProblemClass problem_class_for(ErrorCode code);
// The most urgent class among failing results (see the order above); kNone when none fail.
ProblemClass first_failing_class(const std::vector<CheckResult>& results);

}  // namespace ballast::ops

#include "storage/fault_plan.h"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "util/error_code.h"

namespace ballast::storage {

namespace {

constexpr std::array<std::pair<std::string_view, FaultOp>, 9> kOperations{{
    {"open", FaultOp::kOpen},
    {"write", FaultOp::kWrite},
    {"sync", FaultOp::kSync},
    {"allocate", FaultOp::kAllocate},
    {"truncate", FaultOp::kTruncate},
    {"rename", FaultOp::kRename},
    {"remove", FaultOp::kRemove},
    {"sync_directory", FaultOp::kSyncDirectory},
    {"create_directory", FaultOp::kCreateDirectory},
}};

constexpr std::array<std::pair<std::string_view, int>, 6> kErrnos{{
    {"EIO", EIO},
    {"ENOSPC", ENOSPC},
    {"EACCES", EACCES},
    {"EPERM", EPERM},
    {"EROFS", EROFS},
    {"EDQUOT", EDQUOT},
}};

template <typename T, size_t N>
std::optional<T> lookup(const std::array<std::pair<std::string_view, T>, N>& table, std::string_view name) {
  for (const auto& [known, value] : table) {
    if (known == name) return value;
  }
  return std::nullopt;
}

Error bad_rule(size_t line_number, std::string_view line, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("fault plan line {} \"{}\": {}", line_number, line, why),
               "write rules as '<operation> <file-name-glob> <errno-name>', e.g. 'sync *.seg EIO' "
               "(docs/fault-injection.md)");
}

}  // namespace

Result<std::vector<FaultRule>> parse_fault_plan(std::string_view text) {
  std::vector<FaultRule> rules;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (size_t line_number = 1; std::getline(lines, line); ++line_number) {
    std::istringstream words(line);
    std::string operation, glob, errno_name, extra;
    if (!(words >> operation) || operation.starts_with('#')) continue;
    if (!(words >> glob >> errno_name) || (words >> extra)) {
      return bad_rule(line_number, line, "expected exactly three words");
    }
    const auto op = lookup(kOperations, operation);
    if (!op) return bad_rule(line_number, line, fmt::format("unknown operation \"{}\"", operation));
    const auto error_number = lookup(kErrnos, errno_name);
    if (!error_number) return bad_rule(line_number, line, fmt::format("unknown errno \"{}\"", errno_name));
    rules.push_back(FaultRule{*op, glob, *error_number});
  }
  return rules;
}

std::string describe_fault_rule(const FaultRule& rule) {
  std::string_view operation = "?";
  for (const auto& [name, op] : kOperations) {
    if (op == rule.op) operation = name;
  }
  std::string errno_name = std::to_string(rule.error_number);
  for (const auto& [name, error_number] : kErrnos) {
    if (error_number == rule.error_number) errno_name = name;
  }
  return fmt::format("{} {} {}", operation, rule.name_glob, errno_name);
}

std::optional<Result<std::vector<FaultRule>>> FaultPlanFile::reload_if_changed() {
  struct stat status {};
  Version version;
  if (::stat(path_.c_str(), &status) == 0) {
    version = Version{status.st_ino, status.st_size,
                      static_cast<int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec};
  }
  if (seen_ && *seen_ == version) return std::nullopt;
  seen_ = version;
  if (version.size < 0) return Result<std::vector<FaultRule>>(std::vector<FaultRule>{});
  std::ifstream file(path_);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) {
    return Result<std::vector<FaultRule>>(Error(ErrorCode::kInvalidArgument,
                                                fmt::format("cannot read the fault plan {}", path_.string()),
                                                "make the file readable by ballastd"));
  }
  return parse_fault_plan(text.str());
}

}  // namespace ballast::storage

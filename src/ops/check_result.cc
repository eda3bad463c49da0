#include "ops/check_result.h"

#include <algorithm>

namespace ballast::ops {

CheckResult passed(std::string name, std::string message) {
  return CheckResult{std::move(name), CheckStatus::kOk,   ProblemClass::kNone,
                     std::nullopt,    std::move(message), ""};
}

CheckResult problem(std::string name, CheckStatus status, const Error& error,
                    std::optional<ProblemClass> problem_class) {
  return CheckResult{
      std::move(name), status,          problem_class.value_or(problem_class_for(error.code())),
      error.code(),    error.message(), error.fix()};
}

std::string_view check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk:
      return "ok";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "fail";
  }
  return "fail";
}

std::string_view problem_class_name(ProblemClass problem_class) {
  switch (problem_class) {
    case ProblemClass::kNone:
      return "";
    case ProblemClass::kConfig:
      return "config";
    case ProblemClass::kPermission:
      return "permission";
    case ProblemClass::kStorage:
      return "storage";
    case ProblemClass::kLocked:
      return "locked";
    case ProblemClass::kResource:
      return "resource";
    case ProblemClass::kListen:
      return "listen";
  }
  return "";
}

int exit_status_for_class(ProblemClass problem_class) {
  switch (problem_class) {
    case ProblemClass::kNone:
      return 0;
    case ProblemClass::kConfig:
      return 78;
    case ProblemClass::kPermission:
      return 77;
    case ProblemClass::kStorage:
      return 74;
    case ProblemClass::kLocked:
      return 75;
    case ProblemClass::kResource:
      return 73;
    case ProblemClass::kListen:
      return 76;
  }
  return 1;
}

ProblemClass problem_class_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConfigInvalid:
      return ProblemClass::kConfig;
    case ErrorCode::kStoragePermissionDenied:
      return ProblemClass::kPermission;
    case ErrorCode::kStorageIoError:
    case ErrorCode::kStorageCorrupt:
      return ProblemClass::kStorage;
    case ErrorCode::kDataDirLocked:
      return ProblemClass::kLocked;
    case ErrorCode::kStorageFull:
    case ErrorCode::kBrokerDiskLimit:
    case ErrorCode::kBrokerMemoryLimit:
    case ErrorCode::kDescriptorLimit:
      return ProblemClass::kResource;
    case ErrorCode::kListenFailed:
      return ProblemClass::kListen;
    default:
      return ProblemClass::kNone;
  }
}

ProblemClass first_failing_class(const std::vector<CheckResult>& results) {
  ProblemClass first = ProblemClass::kNone;
  for (const CheckResult& result : results) {
    if (result.status != CheckStatus::kFail) continue;
    if (first == ProblemClass::kNone || result.problem_class < first) first = result.problem_class;
  }
  return first;
}

}  // namespace ballast::ops

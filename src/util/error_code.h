#pragma once
// The single table of Ballast's stable error codes (PRODUCT.md, "Error codes").
// Each code maps to the HTTP status and the AMQP 0-9-1 reply code that every front end uses,
// so the broker core never sees a wire code. Renaming a code changes the operator interface:
// every code has a section in docs/operations.md.
// Thread-safe: constant data only.

#include <optional>
#include <string_view>

namespace ballast {

enum class ErrorCode {
  kStoragePermissionDenied,
  kStorageFull,
  kStorageIoError,
  kStorageCorrupt,
  kQueueLimitReached,
  kBrokerDiskLimit,
  kBrokerMemoryLimit,
  kQueueNotFound,
  kQueueExistsDifferent,
  kMessageTooLarge,
  kReceiptInvalid,
  kInvalidArgument,
  kNotAuthenticated,
  kAccessRefused,
  kPluginUnavailable,
  kPluginRejected,
  kUpgradeInProgress,
  kShuttingDown,
  kNotFound,
  kRequestTooLarge,
  kServerBusy,
  kDataDirLocked,
  kConfigInvalid,
  kListenFailed,
  kServerUnreachable,
  kDescriptorLimit,
  kUnsupportedMediaType,
  kNotImplemented,
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view name;  // e.g. "STORAGE_FULL": what clients and logs see
  int http_status;
  int amqp_reply_code;
};

// The row for `code`. Every enumerator has exactly one row.
const ErrorCodeInfo& error_code_info(ErrorCode code);

// "STORAGE_FULL" for kStorageFull.
std::string_view error_code_name(ErrorCode code);

// The code whose name is `name`, if any (used by clients that parse error bodies).
std::optional<ErrorCode> error_code_from_name(std::string_view name);

}  // namespace ballast

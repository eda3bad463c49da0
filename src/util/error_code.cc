#include "util/error_code.h"

#include <array>

#include "util/check.h"

namespace ballast {
namespace {

// AMQP reply codes from the 0-9-1 spec: 311 content-too-large, 320 connection-forced,
// 403 access-refused, 404 not-found, 406 precondition-failed, 506 resource-error,
// 540 not-implemented.
constexpr std::array kTable = {
    ErrorCodeInfo{ErrorCode::kStoragePermissionDenied, "STORAGE_PERMISSION_DENIED", 503, 506},
    ErrorCodeInfo{ErrorCode::kStorageFull, "STORAGE_FULL", 507, 506},
    ErrorCodeInfo{ErrorCode::kStorageIoError, "STORAGE_IO_ERROR", 503, 506},
    ErrorCodeInfo{ErrorCode::kStorageCorrupt, "STORAGE_CORRUPT", 503, 506},
    ErrorCodeInfo{ErrorCode::kQueueLimitReached, "QUEUE_LIMIT_REACHED", 429, 506},
    ErrorCodeInfo{ErrorCode::kBrokerDiskLimit, "BROKER_DISK_LIMIT", 507, 506},
    ErrorCodeInfo{ErrorCode::kBrokerMemoryLimit, "BROKER_MEMORY_LIMIT", 503, 506},
    ErrorCodeInfo{ErrorCode::kQueueNotFound, "QUEUE_NOT_FOUND", 404, 404},
    ErrorCodeInfo{ErrorCode::kQueueExistsDifferent, "QUEUE_EXISTS_DIFFERENT", 409, 406},
    ErrorCodeInfo{ErrorCode::kMessageTooLarge, "MESSAGE_TOO_LARGE", 413, 311},
    ErrorCodeInfo{ErrorCode::kReceiptInvalid, "RECEIPT_INVALID", 400, 406},
    ErrorCodeInfo{ErrorCode::kInvalidArgument, "INVALID_ARGUMENT", 400, 406},
    ErrorCodeInfo{ErrorCode::kNotAuthenticated, "NOT_AUTHENTICATED", 401, 403},
    ErrorCodeInfo{ErrorCode::kAccessRefused, "ACCESS_REFUSED", 403, 403},
    ErrorCodeInfo{ErrorCode::kPluginUnavailable, "PLUGIN_UNAVAILABLE", 503, 506},
    ErrorCodeInfo{ErrorCode::kPluginRejected, "PLUGIN_REJECTED", 422, 406},
    ErrorCodeInfo{ErrorCode::kUpgradeInProgress, "UPGRADE_IN_PROGRESS", 503, 320},
    ErrorCodeInfo{ErrorCode::kShuttingDown, "SHUTTING_DOWN", 503, 320},
    ErrorCodeInfo{ErrorCode::kNotFound, "NOT_FOUND", 404, 404},
    ErrorCodeInfo{ErrorCode::kRequestTooLarge, "REQUEST_TOO_LARGE", 413, 311},
    ErrorCodeInfo{ErrorCode::kServerBusy, "SERVER_BUSY", 429, 506},
    ErrorCodeInfo{ErrorCode::kDataDirLocked, "DATA_DIR_LOCKED", 503, 506},
    ErrorCodeInfo{ErrorCode::kConfigInvalid, "CONFIG_INVALID", 400, 406},
    ErrorCodeInfo{ErrorCode::kListenFailed, "LISTEN_FAILED", 503, 506},
    ErrorCodeInfo{ErrorCode::kServerUnreachable, "SERVER_UNREACHABLE", 503, 506},
    ErrorCodeInfo{ErrorCode::kDescriptorLimit, "DESCRIPTOR_LIMIT", 503, 506},
    ErrorCodeInfo{ErrorCode::kUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", 415, 406},
    ErrorCodeInfo{ErrorCode::kNotImplemented, "NOT_IMPLEMENTED", 501, 540},
};

}  // namespace

const ErrorCodeInfo& error_code_info(ErrorCode code) {
  for (const auto& row : kTable) {
    if (row.code == code) return row;
  }
  BALLAST_CHECK(false, "error code {} has no row in the table", static_cast<int>(code));
  return kTable[0];
}

std::string_view error_code_name(ErrorCode code) {
  return error_code_info(code).name;
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (const auto& row : kTable) {
    if (row.name == name) return row.code;
  }
  return std::nullopt;
}

}  // namespace ballast

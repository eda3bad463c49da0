#include "storage/disk_reserve.h"

namespace ballast::storage {

DiskReserve::DiskReserve(FileSystem& file_system, std::filesystem::path path, uint64_t bytes)
    : fs_(file_system), path_(std::move(path)), bytes_(bytes) {}

Status DiskReserve::allocate_locked() {
  const std::filesystem::path temporary = path_.string() + ".tmp";
  auto file = fs_.open(temporary, OpenMode::kCreateTruncate);
  if (!file) return std::move(file).error();
  auto status = (*file)->allocate(bytes_);
  if (status) status = (*file)->sync();
  file->reset();
  if (!status) {
    fs_.remove(temporary).ignore("the partial reserve file is only a cleanup");
    return status;
  }
  status = fs_.rename(temporary, path_);
  if (!status) return status;
  return fs_.sync_directory(path_.parent_path());
}

Status DiskReserve::ensure() {
  std::lock_guard lock(mu_);
  if (bytes_ == 0) return ok_status();
  auto present = fs_.exists(path_);
  if (!present) return std::move(present).error();
  if (*present) return ok_status();
  auto status = allocate_locked();
  if (!status && status.error().code() == ErrorCode::kStorageFull) {
    in_use_ = true;
    return ok_status();
  }
  return status;
}

bool DiskReserve::release() {
  std::lock_guard lock(mu_);
  if (bytes_ == 0 || in_use_) return false;
  if (!fs_.remove(path_)) return false;
  if (!fs_.sync_directory(path_.parent_path())) return false;
  in_use_ = true;
  return true;
}

Status DiskReserve::restore() {
  std::lock_guard lock(mu_);
  if (!in_use_) return ok_status();
  auto status = allocate_locked();
  if (status) in_use_ = false;
  return status;
}

bool DiskReserve::in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

}  // namespace ballast::storage

#pragma once
// The real file layer: open/pwrite/pread/fdatasync/fallocate/rename on the local file system.
// Thread-safe (see file_system.h for File's rules).

#include "storage/file_system.h"

namespace ballast::storage {

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::filesystem::path& path, OpenMode mode) override;
  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status remove(const std::filesystem::path& path) override;
  Status sync_directory(const std::filesystem::path& directory) override;
  Status create_directory(const std::filesystem::path& directory) override;
  Result<std::vector<std::string>> list_directory(const std::filesystem::path& directory) override;
  Result<bool> exists(const std::filesystem::path& path) override;
};

}  // namespace ballast::storage

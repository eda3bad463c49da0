#include "storage/atomic_file.h"

namespace ballast::storage {

Status replace_file_atomically(FileSystem& fs, const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  auto file = fs.open(temporary, OpenMode::kCreateTruncate);
  if (!file) return std::move(file).error();
  auto status = (*file)->write_at(0, std::as_bytes(std::span(contents.data(), contents.size())));
  if (!status) return status;
  status = (*file)->sync();
  if (!status) return status;
  file->reset();
  status = fs.rename(temporary, path);
  if (!status) return status;
  return fs.sync_directory(path.parent_path());
}

Result<std::string> read_whole_file(FileSystem& fs, const std::filesystem::path& path) {
  auto file = fs.open(path, OpenMode::kReadOnly);
  if (!file) return std::move(file).error();
  auto size = (*file)->size();
  if (!size) return std::move(size).error();
  std::string contents(*size, '\0');
  auto read = (*file)->read_at(0, std::as_writable_bytes(std::span(contents)));
  if (!read) return std::move(read).error();
  contents.resize(*read);
  return contents;
}

}  // namespace ballast::storage

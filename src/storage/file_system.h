#pragma once
// The file layer under the journal. Two implementations: PosixFileSystem (the real one) and
// FaultFileSystem (wraps the real one, injects errors and simulates power loss for tests).
// Every failure is an Error with a storage code naming the path, the operation, the errno text
// and, for permissions, the user and the file's owner and mode (see io_error.h).
//
// Threading: a FileSystem is thread-safe. A File is not: its owner serializes calls, except
// that read_at() may run concurrently with write_at()/sync() on the same File (pread/pwrite).
// Durability: write_at() only reaches the page cache; data is durable after sync() returned
// success; a directory entry (create, rename, remove) is durable after sync_directory() of its
// directory returned success.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/result.h"

namespace ballast::storage {

enum class OpenMode : uint8_t {
  kReadOnly,
  kReadWrite,        // must exist
  kCreateExclusive,  // read-write; fails if it exists
  kCreateTruncate,   // read-write; created or emptied
};

class File {
 public:
  virtual ~File() = default;
  virtual const std::filesystem::path& path() const = 0;
  // Writes all of `data` at `offset`, or fails.
  virtual Status write_at(uint64_t offset, std::span<const std::byte> data) = 0;
  // Reads up to out.size() bytes at `offset`; fewer only at the end of the file.
  virtual Result<size_t> read_at(uint64_t offset, std::span<std::byte> out) = 0;
  // fdatasync. After a failure the unsynced data of this file must be considered lost.
  virtual Status sync() = 0;
  // Reserves [0, length) on disk (fallocate); the file's size becomes at least `length`.
  virtual Status allocate(uint64_t length) = 0;
  virtual Status truncate(uint64_t length) = 0;
  virtual Result<uint64_t> size() = 0;
};

// The whole content of `file`, read from offset 0 (recovery and `journal verify` read a segment
// at once this way).
inline Result<std::string> read_whole(File& file) {
  auto size = file.size();
  if (!size) return std::move(size).error();
  std::string buffer(*size, '\0');
  auto read = file.read_at(0, std::as_writable_bytes(std::span(buffer)));
  if (!read) return std::move(read).error();
  buffer.resize(*read);
  return buffer;
}

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::filesystem::path& path, OpenMode mode) = 0;
  // Atomically replaces `to` if it exists.
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  virtual Status remove(const std::filesystem::path& path) = 0;
  virtual Status sync_directory(const std::filesystem::path& directory) = 0;
  // Creates the directory if it is missing (not its parents).
  virtual Status create_directory(const std::filesystem::path& directory) = 0;
  // Names of the entries (files and directories), unsorted.
  virtual Result<std::vector<std::string>> list_directory(const std::filesystem::path& directory) = 0;
  virtual Result<bool> exists(const std::filesystem::path& path) = 0;
};

}  // namespace ballast::storage

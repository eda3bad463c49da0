#pragma once
// The memory this process uses, as an operator sees it in `ps`/`top`: the resident set size
// (RSS) from /proc/self/statm (resident pages × page size). It counts every byte the process
// holds in RAM, including the allocator's free lists and the read cache, but not what is
// swapped out or the kernel's page cache of the journal files.
// Thread-safe: reads a procfs file on every call (one open, read and close).

#include <cstdint>
#include <string>

#include "util/result.h"

namespace ballast {

// The resident set size read from `statm_path` (/proc/self/statm, or a test's copy), in bytes.
// Fails with STORAGE_IO_ERROR naming the file when it cannot be read or does not parse.
Result<uint64_t> resident_memory_bytes(const std::string& statm_path = "/proc/self/statm");

}  // namespace ballast

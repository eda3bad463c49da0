// Raw disk figures that decide the journal's layout, measured on the disk that holds DIR:
// fdatasync latency after 4 KiB writes when (a) appending to a growing file, (b) writing into
// fallocate'd (unwritten) extents, (c) overwriting blocks that already held data, and
// (d) recycling: overwriting a fully written and closed 64 MiB file from its start, as reusing
// an old journal segment does; then sequential write bandwidth, with one fdatasync at the end
// and with an fdatasync after every 256 KiB chunk (group-commit-shaped).
// Prints a table, then one `disk.<figure>=<value>` line per figure for scripts.
// Refuses tmpfs and ramfs, which have no real fsync. Works in DIR/disk-bench and removes it.
// Usage: disk_bench DIR [syncs_per_case (default 2000)] [sequential_mib (default 512)]
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kBlockBytes = 4096;
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kRecycleFileBytes = 64 * kMiB;
constexpr size_t kSequentialChunkBytes = kMiB;
constexpr size_t kGroupCommitChunkBytes = 256 * 1024;
constexpr size_t kDefaultSyncsPerCase = 2000;
constexpr size_t kDefaultSequentialMib = 512;
constexpr size_t kMaxSequentialMib = size_t{1} << 20;
constexpr size_t kFreeSpaceMarginBytes = 256 * kMiB;
// Each latency case, and the group-commit-shaped case, stops at whichever comes first: its
// count or this limit, so a slow disk still finishes in about a minute.
constexpr auto kCaseTimeLimit = std::chrono::seconds(10);

struct Options {
  fs::path dir;
  size_t syncs_per_case = kDefaultSyncsPerCase;
  size_t sequential_bytes = kDefaultSequentialMib * kMiB;
};

// Reports a failed system call on the scratch file `path` with errno's text, removes that
// file and the scratch directory (if it is then empty) so nothing is left behind, and exits 1.
[[noreturn]] void fail(std::string_view what, const fs::path& path) {
  const std::string cause = std::strerror(errno);
  fmt::print(stderr, "disk_bench: cannot {} {}: {}\n", what, path.string(), cause);
  std::error_code cleanup_error;  // best effort on the way out: the failure above is what matters
  fs::remove(path, cleanup_error);
  fs::remove(path.parent_path(), cleanup_error);
  std::exit(1);
}

// One scratch file, created empty and read-write; closed and removed when the object goes.
class ScratchFile {
 public:
  explicit ScratchFile(fs::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd_ < 0) fail("create", path_);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile() {
    ::close(fd_);
    std::error_code cleanup_error;  // a leftover scratch file is reported by the final remove_all
    fs::remove(path_, cleanup_error);
  }

  // Closes and opens the file again, keeping its contents, as reusing an old segment does.
  void reopen() {
    ::close(fd_);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0) fail("reopen", path_);
  }

  void write_at(std::span<const char> bytes, size_t offset) const {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t written =
          ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) {
        if (written == 0) errno = EIO;
        fail("write", path_);
      }
      done += static_cast<size_t>(written);
    }
  }

  void sync_data() const {
    if (::fdatasync(fd_) != 0) fail("fdatasync", path_);
  }

  // Allocates `bytes` as unwritten extents (the size grows, no data is written) and makes
  // the allocation durable, so the timed syncs pay only for what writing into it costs.
  void preallocate(size_t bytes) const {
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(bytes)) != 0) fail("fallocate", path_);
    if (::fsync(fd_) != 0) fail("fsync", path_);
  }

  // Writes `bytes` of data from offset 0 in 1 MiB chunks and fdatasyncs once.
  void fill(size_t bytes) const {
    const std::vector<char> chunk(kSequentialChunkBytes, 'f');
    for (size_t offset = 0; offset < bytes; offset += chunk.size()) {
      write_at(std::span(chunk).first(std::min(chunk.size(), bytes - offset)), offset);
    }
    sync_data();
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Incompressible, and distinct per write, so no compressing or deduplicating layer shortens
// the I/O.
std::vector<char> noise_bytes(size_t bytes) {
  std::vector<char> data(bytes);
  uint64_t state = 0x9e3779b97f4a7c15u;
  for (char& byte : data) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    byte = static_cast<char>(state);
  }
  return data;
}

void stamp(std::vector<char>& data, uint64_t sequence) {
  std::memcpy(data.data(), &sequence, sizeof(sequence));
}

struct SyncLatency {
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double syncs_per_second = 0;  // write + fdatasync pairs per second of the whole loop
  size_t samples = 0;
};

SyncLatency summarize(std::vector<double> sync_us, double elapsed_seconds) {
  std::sort(sync_us.begin(), sync_us.end());
  const auto at = [&](double quantile) {
    return sync_us[static_cast<size_t>(quantile * static_cast<double>(sync_us.size() - 1))];
  };
  return SyncLatency{at(0.5), at(0.9), at(0.99), static_cast<double>(sync_us.size()) / elapsed_seconds,
                     sync_us.size()};
}

// Writes 4 KiB blocks at offsets 0, 4 KiB, 8 KiB, ..., each followed by fdatasync, until
// `max_blocks` or kCaseTimeLimit, and times each fdatasync alone.
SyncLatency time_block_syncs(const ScratchFile& file, size_t max_blocks) {
  std::vector<char> block = noise_bytes(kBlockBytes);
  std::vector<double> sync_us;
  sync_us.reserve(max_blocks);
  const auto start = Clock::now();
  for (size_t i = 0; i < max_blocks && Clock::now() - start < kCaseTimeLimit; ++i) {
    stamp(block, i);
    file.write_at(block, i * kBlockBytes);
    const auto before_sync = Clock::now();
    file.sync_data();
    sync_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before_sync).count());
  }
  return summarize(std::move(sync_us), seconds_since(start));
}

SyncLatency append_case(const fs::path& dir, size_t syncs) {
  const ScratchFile file(dir / "append.bench");
  return time_block_syncs(file, syncs);
}

SyncLatency fallocated_case(const fs::path& dir, size_t syncs) {
  const ScratchFile file(dir / "fallocated.bench");
  file.preallocate(syncs * kBlockBytes);
  return time_block_syncs(file, syncs);
}

SyncLatency overwrite_case(const fs::path& dir, size_t syncs) {
  const ScratchFile file(dir / "overwrite.bench");
  file.fill(syncs * kBlockBytes);
  return time_block_syncs(file, syncs);
}

// The whole 64 MiB file is the count here (16384 blocks), still bounded by kCaseTimeLimit.
SyncLatency recycle_case(const fs::path& dir) {
  ScratchFile file(dir / "recycle.bench");
  file.fill(kRecycleFileBytes);
  file.reopen();
  return time_block_syncs(file, kRecycleFileBytes / kBlockBytes);
}

struct Bandwidth {
  double mb_per_second = 0;  // 10^6 bytes per second
  double syncs_per_second = 0;
  size_t bytes = 0;
  size_t syncs = 0;
};

enum class SyncEvery { kChunk, kEnd };

// Writes up to `total_bytes` sequentially into a new file in `chunk_bytes` writes. With
// kEnd, one fdatasync at the end, inside the timing; with kChunk, an fdatasync after every
// chunk, stopping early at kCaseTimeLimit.
Bandwidth sequential_case(const fs::path& dir, size_t total_bytes, size_t chunk_bytes, SyncEvery sync_every) {
  const ScratchFile file(dir / "sequential.bench");
  std::vector<char> chunk = noise_bytes(chunk_bytes);
  Bandwidth result;
  const auto start = Clock::now();
  while (result.bytes < total_bytes) {
    if (sync_every == SyncEvery::kChunk && Clock::now() - start >= kCaseTimeLimit) break;
    stamp(chunk, result.bytes);
    file.write_at(std::span(chunk).first(std::min(chunk_bytes, total_bytes - result.bytes)), result.bytes);
    result.bytes += std::min(chunk_bytes, total_bytes - result.bytes);
    if (sync_every == SyncEvery::kChunk) {
      file.sync_data();
      ++result.syncs;
    }
  }
  if (sync_every == SyncEvery::kEnd) {
    file.sync_data();
    ++result.syncs;
  }
  const double elapsed = seconds_since(start);
  result.mb_per_second = static_cast<double>(result.bytes) / elapsed / 1e6;
  result.syncs_per_second = static_cast<double>(result.syncs) / elapsed;
  return result;
}

std::string filesystem_name(int64_t type) {
  switch (type) {
    case EXT4_SUPER_MAGIC:
      return "ext2/3/4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    default:
      return fmt::format("type 0x{:x}", type);
  }
}

// Creates the scratch directory DIR/disk-bench on a real disk with room for the largest case.
// Returns the process exit code on failure: 2 for tmpfs/ramfs, 1 otherwise.
std::optional<int> prepare_scratch_dir(const fs::path& scratch, size_t needed_bytes) {
  std::error_code error;
  fs::create_directories(scratch, error);
  if (error) {
    fmt::print(stderr, "disk_bench: cannot create {}: {}\n", scratch.string(), error.message());
    return 1;
  }
  struct statfs info {};
  if (::statfs(scratch.c_str(), &info) != 0) {
    fmt::print(stderr, "disk_bench: cannot statfs {}: {}\n", scratch.string(), std::strerror(errno));
    return 1;
  }
  if (info.f_type == TMPFS_MAGIC || info.f_type == RAMFS_MAGIC) {
    fmt::print(stderr,
               "disk_bench: {} is on {}, which keeps data in memory: fdatasync there measures nothing. "
               "Fix: pass a directory on a real disk, e.g. var/bench in the repository checkout.\n",
               scratch.string(), info.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
    fs::remove(scratch, error);  // best effort: the refusal above is what matters
    return 2;
  }
  const auto free_bytes = static_cast<uint64_t>(info.f_bavail) * static_cast<uint64_t>(info.f_bsize);
  if (free_bytes < needed_bytes + kFreeSpaceMarginBytes) {
    fmt::print(stderr,
               "disk_bench: {} has {} MiB free, the benchmark needs {} MiB (+{} MiB margin). Fix: free "
               "space there, or lower sequential_mib (the third argument).\n",
               scratch.string(), free_bytes / kMiB, needed_bytes / kMiB, kFreeSpaceMarginBytes / kMiB);
    fs::remove(scratch, error);  // best effort: the refusal above is what matters
    return 1;
  }
  fmt::print("disk: {} ({}, {} MiB free)\n", scratch.string(), filesystem_name(info.f_type),
             free_bytes / kMiB);
  return std::nullopt;
}

std::optional<size_t> parse_positive(const char* text) {
  size_t value = 0;
  const std::string_view view(text);
  const auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (error != std::errc() || end != view.data() + view.size() || value == 0) return std::nullopt;
  return value;
}

std::optional<Options> parse_options(int argc, char** argv) {
  if (argc < 2 || argc > 4) return std::nullopt;
  Options options;
  options.dir = argv[1];
  if (argc > 2) {
    const auto syncs = parse_positive(argv[2]);
    if (!syncs) return std::nullopt;
    options.syncs_per_case = *syncs;
  }
  if (argc > 3) {
    const auto mib = parse_positive(argv[3]);
    if (!mib || *mib > kMaxSequentialMib) return std::nullopt;
    options.sequential_bytes = *mib * kMiB;
  }
  return options;
}

// The table row and the script lines for one latency case.
void report(std::string_view label, std::string_view key, const SyncLatency& latency,
            std::vector<std::string>& figures) {
  fmt::print("  {:<34} {:>8.0f} {:>8.0f} {:>8.0f} {:>9.0f} {:>8}\n", label, latency.p50_us, latency.p90_us,
             latency.p99_us, latency.syncs_per_second, latency.samples);
  figures.push_back(fmt::format("disk.fdatasync_{}_p50_us={:.0f}", key, latency.p50_us));
  figures.push_back(fmt::format("disk.fdatasync_{}_p90_us={:.0f}", key, latency.p90_us));
  figures.push_back(fmt::format("disk.fdatasync_{}_p99_us={:.0f}", key, latency.p99_us));
  figures.push_back(fmt::format("disk.fdatasync_{}_per_second={:.0f}", key, latency.syncs_per_second));
  figures.push_back(fmt::format("disk.fdatasync_{}_samples={}", key, latency.samples));
}

void run_latency_cases(const Options& options, const fs::path& scratch, std::vector<std::string>& figures) {
  fmt::print("\n  fdatasync after each 4 KiB write     p50 us   p90 us   p99 us   syncs/s  samples\n");
  report("(a) append to a growing file", "append", append_case(scratch, options.syncs_per_case), figures);
  report("(b) into fallocated extents", "fallocated", fallocated_case(scratch, options.syncs_per_case),
         figures);
  report("(c) overwrite written blocks", "overwrite", overwrite_case(scratch, options.syncs_per_case),
         figures);
  report("(d) recycle a written 64 MiB file", "recycle", recycle_case(scratch), figures);
}

void run_bandwidth_cases(const Options& options, const fs::path& scratch, std::vector<std::string>& figures) {
  const Bandwidth sequential =
      sequential_case(scratch, options.sequential_bytes, kSequentialChunkBytes, SyncEvery::kEnd);
  const Bandwidth grouped =
      sequential_case(scratch, options.sequential_bytes, kGroupCommitChunkBytes, SyncEvery::kChunk);
  fmt::print("\n  sequential write                         MB/s   syncs/s   MiB written\n");
  fmt::print("  {:<34} {:>8.0f} {:>9} {:>13}\n", "1 MiB chunks, one final fdatasync",
             sequential.mb_per_second, "-", sequential.bytes / kMiB);
  fmt::print("  {:<34} {:>8.0f} {:>9.0f} {:>13}\n", "256 KiB chunks, fdatasync each", grouped.mb_per_second,
             grouped.syncs_per_second, grouped.bytes / kMiB);
  figures.push_back(fmt::format("disk.sequential_mb_per_second={:.0f}", sequential.mb_per_second));
  figures.push_back(fmt::format("disk.group_commit_shaped_mb_per_second={:.0f}", grouped.mb_per_second));
  figures.push_back(
      fmt::format("disk.group_commit_shaped_syncs_per_second={:.0f}", grouped.syncs_per_second));
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  if (!options) {
    fmt::print(
        stderr,
        "usage: disk_bench DIR [syncs_per_case (default {})] [sequential_mib (default {})]\n"
        "  counts are positive integers, sequential_mib at most {}; DIR must be on a real disk (not tmpfs)\n",
        kDefaultSyncsPerCase, kDefaultSequentialMib, kMaxSequentialMib);
    return 2;
  }
  const fs::path scratch = options->dir / "disk-bench";
  const size_t needed_bytes =
      std::max({options->sequential_bytes, kRecycleFileBytes, options->syncs_per_case * kBlockBytes});
  if (const auto exit_code = prepare_scratch_dir(scratch, needed_bytes)) return *exit_code;

  std::vector<std::string> figures;
  run_latency_cases(*options, scratch, figures);
  run_bandwidth_cases(*options, scratch, figures);
  std::error_code cleanup_error;
  fs::remove_all(scratch, cleanup_error);
  if (cleanup_error) {
    fmt::print(stderr, "disk_bench: cannot remove {}: {}\n", scratch.string(), cleanup_error.message());
    return 1;
  }
  fmt::print("\n");
  for (const auto& figure : figures) fmt::print("{}\n", figure);
  return 0;
}

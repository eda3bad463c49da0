// Raw disk figures beside the journal's: fdatasync latency after 4 KiB writes when appending
// to a growing file, writing into fallocate'd (unwritten) extents, and overwriting blocks
// that already held data (what recycling journal segments gives); and sequential write
// bandwidth. Refuses tmpfs. Usage: disk_bench DIR [syncs_per_case]
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlock = 4096;
constexpr auto kCaseTimeLimit = std::chrono::seconds(8);

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
  fmt::print(stderr, "disk_bench: cannot {} {}: {}\n", what, path.string(), std::strerror(errno));
  std::exit(1);
}

int open_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) fail("create", path);
  return fd;
}

void write_at(int fd, const std::vector<char>& data, off_t offset, const std::filesystem::path& path) {
  if (::pwrite(fd, data.data(), data.size(), offset) != static_cast<ssize_t>(data.size()))
    fail("write", path);
}

struct Latency {
  double p50_us = 0, p90_us = 0, p99_us = 0, per_second = 0;
  size_t samples = 0;
};

// Writes 4 KiB at successive offsets, each followed by fdatasync, and times the syncs.
Latency time_syncs(int fd, size_t count, const std::filesystem::path& path) {
  std::vector<char> block(kBlock, 'b');
  std::vector<double> micros;
  const auto start = Clock::now();
  for (size_t i = 0; i < count && Clock::now() - start < kCaseTimeLimit; ++i) {
    write_at(fd, block, static_cast<off_t>(i * kBlock), path);
    const auto before = Clock::now();
    if (::fdatasync(fd) != 0) fail("fdatasync", path);
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) {
    return micros[static_cast<size_t>(q * static_cast<double>(micros.size() - 1))];
  };
  return Latency{at(0.5), at(0.9), at(0.99), static_cast<double>(micros.size()) / elapsed, micros.size()};
}

Latency append_case(const std::filesystem::path& dir, size_t count) {
  const auto path = dir / "append.bench";
  const int fd = open_file(path);
  Latency result = time_syncs(fd, count, path);
  ::close(fd);
  std::filesystem::remove(path);
  return result;
}

Latency fallocated_case(const std::filesystem::path& dir, size_t count) {
  const auto path = dir / "fallocated.bench";
  const int fd = open_file(path);
  if (::posix_fallocate(fd, 0, static_cast<off_t>(count * kBlock)) != 0) fail("fallocate", path);
  if (::fsync(fd) != 0) fail("fsync", path);
  Latency result = time_syncs(fd, count, path);
  ::close(fd);
  std::filesystem::remove(path);
  return result;
}

Latency overwrite_case(const std::filesystem::path& dir, size_t count) {
  const auto path = dir / "overwrite.bench";
  const int fd = open_file(path);
  std::vector<char> chunk(1 << 20, 'o');
  for (size_t offset = 0; offset < count * kBlock; offset += chunk.size())
    write_at(fd, chunk, static_cast<off_t>(offset), path);
  if (::fsync(fd) != 0) fail("fsync", path);
  Latency result = time_syncs(fd, count, path);
  ::close(fd);
  std::filesystem::remove(path);
  return result;
}

// Sequential bandwidth in MB/s: `total` bytes in `chunk`-byte writes, fdatasync every
// `sync_every` bytes (and once at the end).
double bandwidth(const std::filesystem::path& dir, size_t total, size_t chunk, size_t sync_every) {
  const auto path = dir / "sequential.bench";
  const int fd = open_file(path);
  std::vector<char> data(chunk, 's');
  const auto start = Clock::now();
  size_t since_sync = 0;
  for (size_t offset = 0; offset < total; offset += chunk) {
    write_at(fd, data, static_cast<off_t>(offset), path);
    since_sync += chunk;
    if (since_sync >= sync_every) {
      if (::fdatasync(fd) != 0) fail("fdatasync", path);
      since_sync = 0;
    }
  }
  if (::fdatasync(fd) != 0) fail("fdatasync", path);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  std::filesystem::remove(path);
  return static_cast<double>(total) / seconds / 1e6;
}

void print_latency(const char* name, const char* key, const Latency& latency) {
  fmt::print(
      "  fdatasync after 4 KiB, {:<22} p50 {:7.0f} us  p90 {:7.0f} us  p99 {:7.0f} us  {:7.0f} syncs/s  ({} "
      "samples)\n",
      name, latency.p50_us, latency.p90_us, latency.p99_us, latency.per_second, latency.samples);
  fmt::print("disk.fdatasync_{}_p50_us={:.0f}\n", key, latency.p50_us);
  fmt::print("disk.fdatasync_{}_per_second={:.0f}\n", key, latency.per_second);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: disk_bench DIR [syncs_per_case]\n");
    return 2;
  }
  const std::filesystem::path dir = std::filesystem::path(argv[1]) / "disk-bench";
  const size_t count = argc > 2 ? std::stoul(argv[2]) : 2000;
  std::filesystem::create_directories(dir);
  struct statfs info {};
  if (::statfs(dir.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC) {
    fmt::print(stderr,
               "disk_bench: {} is on tmpfs, which has no real fsync. Fix: give a directory on a disk.\n",
               dir.string());
    return 2;
  }
  fmt::print("disk: {} (real disk)\n", dir.string());
  print_latency("plain append", "append", append_case(dir, count));
  print_latency("into fallocated space", "fallocated", fallocated_case(dir, count));
  print_latency("overwriting old data", "overwrite", overwrite_case(dir, count));
  const double sequential = bandwidth(dir, 512u << 20, 1u << 20, SIZE_MAX);
  const double grouped = bandwidth(dir, 256u << 20, 256u << 10, 256u << 10);
  fmt::print("  sequential write, 1 MiB chunks, one fdatasync        {:8.0f} MB/s\n", sequential);
  fmt::print("  sequential write, 256 KiB chunks, fdatasync each     {:8.0f} MB/s\n", grouped);
  fmt::print("disk.sequential_mb_per_second={:.0f}\n", sequential);
  fmt::print("disk.group_commit_shaped_mb_per_second={:.0f}\n", grouped);
  std::filesystem::remove_all(dir);
  return 0;
}

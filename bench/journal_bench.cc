// Journal benchmark: in-process durable appends of fixed-size records with group commit, in
// sync mode `always`, on a real disk (tmpfs is refused). Prints records/s, fsyncs/s, mean
// records per fsync and records in flight, over a steady state that includes segment
// roll-over. Usage: journal_bench DIR [seconds] [record_bytes] [max_in_flight]
#include <sys/vfs.h>

#include <linux/magic.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "storage/journal.h"
#include "storage/posix_file_system.h"
#include "storage/record_codec.h"
#include "util/log.h"

namespace {

using namespace ballast;
using Clock = std::chrono::steady_clock;

class NoRecovery : public storage::RecoveryVisitor {
 public:
  void load_snapshot(std::span<const std::byte>) override {}
  void apply_group(std::span<const storage::ReplayedRecord>) override {}
};

struct Figures {
  double seconds = 0;
  uint64_t records = 0;
  uint64_t fsyncs = 0;
  uint64_t segments = 0;
  double mean_in_flight = 0;
};

Figures run(const std::filesystem::path& dir, double seconds, size_t record_bytes, uint64_t max_in_flight) {
  storage::PosixFileSystem fs;
  storage::JournalOptions options;
  options.data_dir = dir;
  options.file_system = &fs;
  NoRecovery visitor;
  storage::RecoveryReport report;
  auto journal = storage::Journal::open(options, visitor, report);
  if (!journal) {
    std::fprintf(stderr, "journal_bench: %s\n", journal.error().describe().c_str());
    std::exit(1);
  }
  (*journal)->start();
  std::mutex mu;
  std::condition_variable room;
  uint64_t in_flight = 0;
  std::atomic<uint64_t> completed{0};
  std::atomic<bool> failed{false};
  const std::string payload(record_bytes - storage::kRecordHeaderBytes, 'r');
  double in_flight_sum = 0;
  uint64_t samples = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline && !failed) {
    {
      std::unique_lock lock(mu);
      room.wait(lock, [&] { return in_flight < max_in_flight; });
      ++in_flight;
      in_flight_sum += static_cast<double>(in_flight);
      ++samples;
    }
    auto appended =
        (*journal)->append({storage::RecordToAppend{4, false, payload}}, [&](ballast::Status status) {
          if (!status) failed = true;
          completed.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard lock(mu);
          --in_flight;
          room.notify_one();
        });
    if (!appended) {
      std::fprintf(stderr, "journal_bench: %s\n", appended.error().describe().c_str());
      std::exit(1);
    }
  }
  {
    std::unique_lock lock(mu);
    room.wait(lock, [&] { return in_flight == 0; });
  }
  Figures figures;
  figures.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  figures.records = completed.load();
  const auto stats = (*journal)->stats();
  figures.fsyncs = stats.fsyncs;
  figures.segments = stats.segments;
  figures.mean_in_flight = samples ? in_flight_sum / static_cast<double>(samples) : 0;
  journal->reset();
  if (failed) {
    std::fprintf(stderr, "journal_bench: a commit failed\n");
    std::exit(1);
  }
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: journal_bench DIR [seconds] [record_bytes] [max_in_flight]\n");
    return 2;
  }
  const std::filesystem::path dir = std::filesystem::path(argv[1]) / "journal-bench";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 10.0;
  const size_t record_bytes = argc > 3 ? static_cast<size_t>(std::atol(argv[3])) : 1024;
  const uint64_t max_in_flight = argc > 4 ? static_cast<uint64_t>(std::atoll(argv[4])) : 8192;
  std::filesystem::create_directories(argv[1]);
  struct statfs info {};
  if (::statfs(argv[1], &info) == 0 && info.f_type == TMPFS_MAGIC) {
    std::fprintf(stderr,
                 "journal_bench: %s is on tmpfs, which has no real fsync. Fix: give a directory on a disk.\n",
                 argv[1]);
    return 2;
  }
  std::filesystem::remove_all(dir);
  ballast::log::set_min_level(ballast::log::Level::kWarn);
  const Figures figures = run(dir, seconds, record_bytes, max_in_flight);
  std::filesystem::remove_all(dir);
  const double records_per_second = static_cast<double>(figures.records) / figures.seconds;
  std::printf("journal: %zu-byte records, sync mode always, %.1f s, %llu segments of 64 MiB\n", record_bytes,
              figures.seconds, static_cast<unsigned long long>(figures.segments));
  std::printf("  durable records/s      %12.0f\n", records_per_second);
  std::printf("  MB/s                   %12.1f\n",
              records_per_second * static_cast<double>(record_bytes) / 1e6);
  std::printf("  fsyncs/s               %12.0f\n", static_cast<double>(figures.fsyncs) / figures.seconds);
  std::printf(
      "  records per fsync      %12.1f\n",
      figures.fsyncs ? static_cast<double>(figures.records) / static_cast<double>(figures.fsyncs) : 0.0);
  std::printf("  records in flight      %12.0f (mean; cap %llu)\n", figures.mean_in_flight,
              static_cast<unsigned long long>(max_in_flight));
  std::printf("journal.records_per_second=%.0f\n", records_per_second);
  std::printf("journal.fsyncs_per_second=%.0f\n", static_cast<double>(figures.fsyncs) / figures.seconds);
  std::printf(
      "journal.records_per_fsync=%.1f\n",
      figures.fsyncs ? static_cast<double>(figures.records) / static_cast<double>(figures.fsyncs) : 0.0);
  std::printf("journal.target_records_per_second=150000 ratio=%.2f\n", records_per_second / 150000.0);
  return 0;
}

// Crash consistency: a crash injected at every I/O call of a workload run, 1,000 randomized
// crash points with torn writes and partial power loss, power losses that lose unsynced
// writes of every file independently, a torn write at every byte boundary of a record header,
// and proof that the checker catches purpose-built broken journals. Random runs print their
// seed; BALLAST_CRASH_SEED=N replays one.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <random>

#include "broker/broker_test_support.h"
#include "storage/record_codec.h"
#include "tests/crash/crash_workload.h"
#include "util/log.h"

namespace ballast::crash {
namespace {

std::filesystem::path scratch_dir() {
  // The fault layer simulates power loss itself, so a RAM-backed directory is as good a
  // witness as a disk and keeps a run of thousands of crash points short.
  const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  char pattern[64];
  std::snprintf(pattern, sizeof(pattern), "%s/ballast-crash-XXXXXX", base.c_str());
  return ::mkdtemp(pattern);
}

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

struct Sweep {
  uint64_t points = 0;
  uint64_t violations = 0;
  std::vector<std::string> examples;
};

void add(Sweep& sweep, const RunResult& result, const CrashPoint& point) {
  ++sweep.points;
  if (result.violations.empty()) return;
  ++sweep.violations;
  if (sweep.examples.size() < 5) {
    sweep.examples.push_back(fmt::format("crash at call {} (torn {}, seed {}, failed fsync {}): {}",
                                         point.call, point.torn_bytes, point.loss_seed, point.fail_sync,
                                         result.violations.front()));
  }
}

class CrashConsistency : public ::testing::Test {
 protected:
  void SetUp() override { scratch_ = scratch_dir(); }
  void TearDown() override { std::filesystem::remove_all(scratch_); }

  // Runs the workload without a crash and checks it exercises what the sweep must cover:
  // roll-over, reclamation, compaction and dead-lettering.
  uint64_t reference_calls(const WorkloadOptions& options) {
    std::map<std::string, int> events;
    std::mutex events_mu;
    log::set_sink([&](std::string_view line) {
      const auto start = line.find("event=");
      if (start == std::string_view::npos) return;
      const auto name = line.substr(start + 6, line.find(' ', start) - start - 6);
      std::lock_guard lock(events_mu);
      ++events[std::string(name)];
    });
    const RunResult reference = run_crash_point(scratch_, options, CrashPoint{});
    log::set_sink({});
    EXPECT_TRUE(reference.violations.empty()) << reference.violations.front();
    EXPECT_GE(events["storage.segment_opened"], 4) << "the workload must roll over several segments";
    EXPECT_GE(events["storage.segment_reclaimed"], 1) << "the workload must reclaim segments";
    EXPECT_GE(events["storage.compaction"], 1) << "the workload must compact";
    EXPECT_GE(reference.dead_lettered, 1u) << "the workload must dead-letter";
    std::printf(
        "reference run: %llu I/O calls, %llu steps, segments opened %d, reclaimed %d, "
        "compactions %d, dead-lettered %llu\n",
        static_cast<unsigned long long>(reference.io_calls),
        static_cast<unsigned long long>(reference.operations), events["storage.segment_opened"],
        events["storage.segment_reclaimed"], events["storage.compaction"],
        static_cast<unsigned long long>(reference.dead_lettered));
    return reference.io_calls;
  }

  // `iterations` random crash points (call, torn bytes, loss seed and, with `fail_syncs` > 0, a
  // failed fsync among the first `fail_syncs`) from a printed seed (BALLAST_CRASH_SEED replays
  // one); expects no violation.
  // `observe_log`, if set, sees every log line of the crash runs.
  Sweep random_sweep(const char* what, WorkloadOptions options, uint64_t iterations,
                     storage::PowerLossModel model, uint64_t fail_syncs = 0,
                     std::function<void(std::string_view)> observe_log = {}) {
    const uint64_t seed = env_or("BALLAST_CRASH_SEED", std::random_device{}());
    std::printf("BALLAST_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
    std::mt19937_64 random(seed);
    options.seed = seed;
    const uint64_t calls = reference_calls(options);
    // With failed fsyncs the journal goes on after its repair: crash points reach further.
    const uint64_t reach = fail_syncs > 0 ? calls + calls / 4 : calls;
    Sweep sweep;
    log::set_sink(std::move(observe_log));
    for (uint64_t i = 0; i < iterations; ++i) {
      CrashPoint point{1 + random() % reach, random() % 700, model, random(), false, 0};
      if (fail_syncs > 0) point.fail_sync = 1 + random() % fail_syncs;
      add(sweep, run_crash_point(scratch_, options, point), point);
    }
    log::set_sink({});
    std::printf("%s: %llu (seed %llu), runs with a violation: %llu\n", what,
                static_cast<unsigned long long>(sweep.points), static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(sweep.violations));
    EXPECT_EQ(sweep.violations, 0u) << "seed " << seed << "\n"
                                    << fmt::format("{}", fmt::join(sweep.examples, "\n"));
    return sweep;
  }

  std::filesystem::path scratch_;
};

TEST_F(CrashConsistency, CrashAtEveryIoCallLosesNothingConfirmed) {
  WorkloadOptions options;
  options.steps = static_cast<int>(env_or("BALLAST_CRASH_STEPS", 120));
  const uint64_t calls = reference_calls(options);
  ASSERT_GT(calls, 100u);
  Sweep sweep;
  for (uint64_t call = 1; call <= calls; ++call) {
    CrashPoint point{call, (call * 37) % 300, storage::PowerLossModel::kDropAllUnsynced, call, false};
    add(sweep, run_crash_point(scratch_, options, point), point);
  }
  std::printf("crash points: %llu, runs with a violation: %llu\n",
              static_cast<unsigned long long>(sweep.points),
              static_cast<unsigned long long>(sweep.violations));
  EXPECT_EQ(sweep.violations, 0u) << fmt::format("{}", fmt::join(sweep.examples, "\n"));
}

TEST_F(CrashConsistency, ThousandRandomCrashesWithTornWritesAndPartialLoss) {
  WorkloadOptions options;
  options.steps = 80;
  random_sweep("random crash points", options, env_or("BALLAST_CRASH_ITERATIONS", 1000),
               storage::PowerLossModel::kKeepSeededPrefix);
}

// A power loss at a random point, where each file (segments, superblock, checkpoint and their
// temporary files) independently loses all, none or a torn suffix of what was written since
// its last fsync, and directory entries not yet synced survive only as a seeded prefix.
TEST_F(CrashConsistency, PowerLossLosingUnsyncedWritesPerFileLosesNothingConfirmed) {
  WorkloadOptions options;
  options.steps = 80;
  random_sweep("power losses", options, env_or("BALLAST_CRASH_LOSS_ITERATIONS", 120),
               storage::PowerLossModel::kIndependentPerFile);
}

// A crash that leaves exactly 0, 1, ... 24 bytes of the last record header of an atomic group
// on disk, with and without garbage after them, for a group of publishes and a group of acks.
TEST_F(CrashConsistency, TornWriteAtEveryByteOfARecordHeaderRecovers) {
  const uint64_t seed = env_or("BALLAST_CRASH_SEED", std::random_device{}());
  std::printf("BALLAST_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  uint64_t points = 0;
  std::vector<std::string> violations;
  for (uint64_t bytes = 0; bytes <= storage::kRecordHeaderBytes; ++bytes) {
    for (const bool garbage : {false, true}) {
      for (const bool victim_is_ack : {false, true}) {
        TornHeaderPoint point{bytes, garbage ? std::optional<uint64_t>(random()) : std::nullopt,
                              victim_is_ack};
        const RunResult result = run_torn_header_point(scratch_, point);
        ++points;
        for (const auto& violation : result.violations) {
          violations.push_back(fmt::format("{} header bytes, {}, torn {}: {}", bytes,
                                           garbage ? "garbage after" : "nothing after",
                                           victim_is_ack ? "acks" : "publishes", violation));
        }
      }
    }
  }
  std::printf("torn record headers: %llu (seed %llu), violations: %zu\n",
              static_cast<unsigned long long>(points), static_cast<unsigned long long>(seed),
              violations.size());
  EXPECT_TRUE(violations.empty()) << "seed " << seed << "\n"
                                  << fmt::format("{}", fmt::join(violations, "\n"));
}

TEST_F(CrashConsistency, FailedFsyncLosesNothingConfirmed) {
  WorkloadOptions options;
  options.steps = 60;
  Sweep sweep;
  for (uint64_t occurrence = 1; occurrence <= 60; ++occurrence) {
    CrashPoint point{occurrence, 0, storage::PowerLossModel::kDropAllUnsynced, occurrence, true};
    add(sweep, run_crash_point(scratch_, options, point), point);
  }
  EXPECT_EQ(sweep.violations, 0u) << fmt::format("{}", fmt::join(sweep.examples, "\n"));
}

// A failed fsync (of a segment, a checkpoint or a self-check probe), the journal repaired
// without a restart and the workload going on, then a crash with power loss at a random point
// (before or after the failure): nothing confirmed is lost, no acknowledged message is back, and
// no publish that failed ever appears (its records were cut off; their sequence numbers reused).
TEST_F(CrashConsistency, FailedFsyncRepairedWithoutRestartThenPowerLossLosesNothingConfirmed) {
  WorkloadOptions options;
  options.steps = 80;  // as the other random sweeps: long enough to reclaim and compact whatever the seed
  options.repair_after_failure = true;
  std::atomic<uint64_t> repairs{0};
  random_sweep("failed fsyncs, then crashes", options, env_or("BALLAST_CRASH_REPAIR_ITERATIONS", 30),
               storage::PowerLossModel::kIndependentPerFile, /*fail_syncs=*/30, [&](std::string_view line) {
                 if (line.find("event=storage.write_recovered") != std::string_view::npos) ++repairs;
               });
  std::printf("journal repairs without a restart: %llu\n", static_cast<unsigned long long>(repairs.load()));
  EXPECT_GT(repairs.load(), 0u) << "the sweep must repair the journal at least once";
}

// The checker must catch journals that break each durability rule.
Sweep sweep_broken(const std::filesystem::path& scratch, storage::JournalDefect defect, bool fail_sync) {
  WorkloadOptions options;
  options.steps = 60;
  options.defect = defect;
  Sweep sweep;
  for (uint64_t call = 1; call <= 400 && sweep.violations == 0; call += fail_sync ? 1 : 3) {
    CrashPoint point{call, 0, storage::PowerLossModel::kDropAllUnsynced, call, fail_sync};
    add(sweep, run_crash_point(scratch, options, point), point);
  }
  return sweep;
}

void expect_caught(const Sweep& sweep) {
  EXPECT_GT(sweep.violations, 0u) << "the broken journal passed " << sweep.points << " crash points";
  for (const auto& example : sweep.examples) std::printf("caught: %s\n", example.c_str());
}

TEST_F(CrashConsistency, CatchesConfirmBeforeFsync) {
  expect_caught(sweep_broken(scratch_, storage::JournalDefect::kConfirmBeforeFsync, false));
}

TEST_F(CrashConsistency, CatchesMissingDirectoryFsync) {
  expect_caught(sweep_broken(scratch_, storage::JournalDefect::kSkipDirectoryFsync, false));
}

TEST_F(CrashConsistency, CatchesRetriedFailedFsync) {
  expect_caught(sweep_broken(scratch_, storage::JournalDefect::kRetryFailedFsync, true));
}

}  // namespace
}  // namespace ballast::crash

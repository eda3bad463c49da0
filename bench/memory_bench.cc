// Index memory per queued message: publishes N small messages through the broker (journal on
// the real disk) and reports the growth of the process's resident memory per message, against
// the 64-byte target for the index entry. Bodies live in the journal, not in memory.
// Usage: memory_bench DIR [messages]
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "broker/broker.h"
#include "util/log.h"

namespace {

using namespace ballast;

uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * 4096;
}

template <typename T, typename Start>
Result<T> wait_for(Start start) {
  std::promise<Result<T>> promise;
  start([&promise](Result<T> result) { promise.set_value(std::move(result)); });
  return promise.get_future().get();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: memory_bench DIR [messages]\n");
    return 2;
  }
  const std::filesystem::path dir = std::filesystem::path(argv[1]) / "memory-bench";
  const uint64_t messages = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
  std::filesystem::remove_all(dir);
  log::set_min_level(log::Level::kWarn);
  broker::BrokerOptions options;
  options.data_dir = dir.string();
  options.checkpoint_interval_ms = 3'600'000;
  // The index alone: the read cache is a fixed bound (storage.read_cache_bytes), not a cost per
  // message, and would hide the entry size behind the messages it happens to hold.
  options.read_cache_bytes = 0;
  auto opened = broker::Broker::open(options);
  if (!opened) {
    fmt::print(stderr, "memory_bench: {}\n", opened.error().describe());
    return 1;
  }
  auto& core = **opened;
  core.run();
  auto created =
      wait_for<broker::CreateQueueOutcome>([&](auto done) { core.create_queue("/", "memory", {}, done); });
  if (!created) return 1;
  constexpr uint64_t kBatch = 1000;
  std::vector<broker::PublishRequest> batch(kBatch);
  for (auto& request : batch) request.body = "0123456789abcdef";
  const uint64_t before = resident_bytes();
  for (uint64_t sent = 0; sent < messages; sent += kBatch) {
    auto published =
        wait_for<broker::PublishOutcome>([&](auto done) { core.publish("/", "memory", batch, done); });
    if (!published) {
      fmt::print(stderr, "memory_bench: {}\n", published.error().describe());
      return 1;
    }
  }
  const uint64_t after = resident_bytes();
  core.stop();
  std::filesystem::remove_all(dir);
  const double per_message = static_cast<double>(after - before) / static_cast<double>(messages);
  fmt::print("memory: {} queued messages of 16 bytes, journal on disk\n", messages);
  fmt::print("  resident memory growth per message   {:8.1f} bytes (index entry {} bytes, target 64)\n",
             per_message, 56);
  fmt::print("memory.bytes_per_message={:.1f}\n", per_message);
  fmt::print("memory.target_bytes_per_message=64 ratio={:.2f}\n", per_message / 64.0);
  return 0;
}

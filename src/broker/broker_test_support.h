#pragma once
// Test support for the broker: a manual clock, a temporary data directory and synchronous
// wrappers around the asynchronous Broker calls. Used only by *_test.cc files.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "broker/broker_core.h"
#include "storage/posix_file_system.h"

namespace ballast::broker::testing {

class ManualClock final : public Clock {
 public:
  int64_t wall_ms() const override { return wall_ms_.load(); }
  int64_t monotonic_ms() const override { return monotonic_ms_.load(); }
  void advance_ms(int64_t ms) {
    wall_ms_ += ms;
    monotonic_ms_ += ms;
  }

 private:
  std::atomic<int64_t> wall_ms_{1'800'000'000'000};
  std::atomic<int64_t> monotonic_ms_{1'000'000};
};

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/ballast-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Calls `start(callback)` and waits (up to 10 s) for the callback's result.
template <typename T, typename Start>
Result<T> await_call(Start start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> result) { promise->set_value(std::move(result)); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "broker call did not answer within 10 s";
    return Error(ErrorCode::kServerBusy, "timed out in test", "");
  }
  return future.get();
}

// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace ballast::broker::testing

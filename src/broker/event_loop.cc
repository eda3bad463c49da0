#include "broker/event_loop.h"

#include "util/check.h"

namespace ballast::broker {

EventLoop::~EventLoop() {
  stop();
}

void EventLoop::start(std::chrono::milliseconds tick_interval, Task tick) {
  BALLAST_CHECK(!thread_.joinable(), "event loop started twice");
  tick_ = std::move(tick);
  thread_ = std::thread([this, tick_interval] { run(tick_interval); });
}

bool EventLoop::post(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && !in_loop_thread()) thread_.join();
}

void EventLoop::run(std::chrono::milliseconds tick_interval) {
  auto next_tick = std::chrono::steady_clock::now() + tick_interval;
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_until(lock, next_tick, [&] { return !tasks_.empty() || stopping_; });
    std::deque<Task> batch;
    batch.swap(tasks_);
    const bool stopping = stopping_;
    lock.unlock();
    for (Task& task : batch) task();
    if (std::chrono::steady_clock::now() >= next_tick) {
      if (tick_) tick_();
      next_tick = std::chrono::steady_clock::now() + tick_interval;
    }
    lock.lock();
    if (stopping && tasks_.empty()) break;
  }
}

}  // namespace ballast::broker

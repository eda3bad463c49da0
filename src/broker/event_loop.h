#pragma once
// The broker thread: runs posted tasks in order and a periodic tick, one at a time, so the
// state they touch needs no locks. Tasks must not block on the network; disk reads of message
// bodies are allowed (this is the storage executor).
// Thread-safe: post() and stop() may be called from any thread; tasks run on the loop thread.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ballast::broker {

class EventLoop {
 public:
  using Task = std::function<void()>;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts the thread; `tick` runs every `tick_interval` between tasks.
  void start(std::chrono::milliseconds tick_interval, Task tick);
  // Queues `task`. Returns false (and drops it) once stop() has begun.
  bool post(Task task);
  // Runs every task already queued, then joins the thread. Idempotent.
  void stop();
  bool in_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run(std::chrono::milliseconds tick_interval);

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  Task tick_;
  std::thread thread_;
};

}  // namespace ballast::broker

#pragma once
// Posts work to the plug-in host's io_context from other threads (the broker's callbacks) for
// as long as the host is running; after close() a post is dropped and says so. Lets callbacks
// that may outlive the host hold a shared_ptr to the gate instead of a pointer to the host.
// Thread-safe: a leaf mutex held only to post.

#include <functional>
#include <mutex>

#include "plugins/asio.h"

namespace ballast::plugins {

class PostGate {
 public:
  explicit PostGate(boost::asio::io_context& io) : io_(&io) {}

  // True if `task` was posted (it runs on the io thread unless the io_context stops first).
  bool post(std::function<void()> task) {
    std::lock_guard lock(mu_);
    if (io_ == nullptr) return false;
    boost::asio::post(*io_, std::move(task));
    return true;
  }
  void close() {
    std::lock_guard lock(mu_);
    io_ = nullptr;
  }

 private:
  std::mutex mu_;
  boost::asio::io_context* io_;  // guarded by mu_; null once closed
};

}  // namespace ballast::plugins

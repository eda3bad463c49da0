#pragma once
// One started process of a supervised plug-in: the process, the Asio descriptors on its pipes
// and pidfd, and the per-process decoding and writing state. Internal to PluginSupervisor.
// Confined to the host's io_context thread.

#include <array>
#include <cstdint>
#include <deque>
#include <string>

#include "plugins/plugin_supervisor.h"

namespace ballast::plugins {

struct PluginSupervisor::Incarnation {
  Incarnation(boost::asio::io_context& io, PluginProcess started, uint64_t incarnation_generation,
              int64_t start_ms)
      : generation(incarnation_generation),
        process(std::move(started)),
        pid(process.pid()),
        input(io, process.release_stdin()),
        output(io, process.release_stdout()),
        errors(io, process.release_stderr()),
        exit(io, process.release_pidfd()),
        started_at_ms(start_ms),
        grace_timer(io),
        drain_timer(io) {}

  // Closes its stdin and stdout, which cancels pending reads and writes. Its stderr stays open
  // until it is reaped, so that its last words reach the log.
  void close_pipes() {
    boost::system::error_code ignored;
    input.close(ignored);
    output.close(ignored);
  }

  uint64_t generation;
  PluginProcess process;
  const int pid;                                 // kept after the process is reaped, for the events
  boost::asio::posix::stream_descriptor input;   // its stdin
  boost::asio::posix::stream_descriptor output;  // its stdout
  boost::asio::posix::stream_descriptor errors;  // its stderr
  boost::asio::posix::stream_descriptor exit;    // its pidfd: readable once it has exited
  int64_t started_at_ms;
  boost::asio::steady_timer grace_timer;  // SIGKILL after stop_grace_ms once retired gracefully
  boost::asio::steady_timer drain_timer;  // replaced by a reload: how long it may still answer
  FrameDecoder decoder;
  std::array<char, 65536> read_buffer{};
  std::array<char, 4096> stderr_buffer{};
  std::string stderr_line;
  std::deque<std::string> write_queue;
  bool writing = false;
};

}  // namespace ballast::plugins

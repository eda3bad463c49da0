#pragma once
// A real Broker over a temporary data directory, for the fuzz targets that drive a front end
// (HTTP, AMQP) through the real broker. One per process: the first input opens it. Every
// kInputsPerBroker inputs it is replaced by an empty one in a new directory, which bounds the
// queues and messages a long fuzzing run piles up. The directory is removed on destruction.
// The broker runs with small limits (1 MiB segments, 256 KiB messages, no disk reserve) and
// interval sync, so an input costs memory and time in proportion to its size.
// Not thread-safe: the fuzz driver's thread owns it; the Broker itself is thread-safe.

#include <cstdint>
#include <filesystem>
#include <memory>

#include "broker/broker.h"

namespace ballast::fuzz {

class ScratchBroker {
 public:
  static constexpr uint64_t kInputsPerBroker = 2000;
  static constexpr uint64_t kMaxMessageBytes = 256u << 10;

  // Opens and runs the broker; aborts if it cannot (a fuzz target has nothing to test then).
  ScratchBroker();
  ~ScratchBroker();
  ScratchBroker(const ScratchBroker&) = delete;
  ScratchBroker& operator=(const ScratchBroker&) = delete;

  // The broker for the next input: the same one, or a fresh one every kInputsPerBroker calls.
  // Valid until the next call.
  broker::Broker& next_input();

 private:
  void open();
  void close();

  std::filesystem::path dir_;
  std::unique_ptr<broker::Broker> broker_;
  uint64_t inputs_ = 0;
};

}  // namespace ballast::fuzz

// libFuzzer target: AMQP 0-9-1 input (src/protocol/amqp091). The input is what a client sends
// on a fresh connection: protocol header, then frames.
// 1. The decoders alone: frames are cut with next_frame; method frames go through the generated
//    decode_method, content headers through BasicProperties, and field tables through
//    parse_table. Invariant: whatever decodes re-encodes to bytes that decode and re-encode to
//    the very same bytes.
// 2. The sans-I/O Connection state machine over a real broker (ScratchBroker), with a
//    transport that runs posted broker answers on this thread and waits until the broker has
//    answered every call; the connection is then closed as a dropped socket would be.
//    Invariants: no abort, no hang (everything settles within kSettleTimeout), and the server
//    writes only well-formed frames whose methods decode, after its protocol header answer
//    when the client's header is wrong.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "protocol/amqp091/connection.h"
#include "protocol/amqp091/frame.h"
#include "protocol/amqp091/methods.h"
#include "protocol/amqp091/registry.h"
#include "protocol/amqp091/wire.h"
#include "scratch_broker.h"
#include "tracked_broker.h"
#include "util/check.h"

namespace ballast::fuzz {
namespace {

using amqp::Frame;
using amqp::FrameParse;
using amqp::FrameType;

constexpr uint32_t kFrameMax = 131072;
constexpr size_t kContentHeaderPrefixBytes = 12;  // class id, weight, body size
constexpr auto kSettleTimeout = std::chrono::seconds(20);

void check_table(std::string_view raw) {
  amqp::FieldEntries entries;
  if (!amqp::parse_table(raw, entries)) return;
  const amqp::FieldTable encoded = amqp::encode_table(entries);
  amqp::FieldEntries again;
  BALLAST_CHECK(amqp::parse_table(encoded.raw, again), "a re-encoded field table does not parse");
  BALLAST_CHECK(amqp::encode_table(again) == encoded, "a field table does not survive a second round trip");
}

std::string encode_method_payload(const amqp::Method& method) {
  std::string payload;
  amqp::WireWriter writer(payload);
  std::visit([&](const auto& m) { amqp::encode_method(m, writer); }, method);
  return payload;
}

void check_method(std::string_view payload) {
  amqp::MethodId id;
  bool unknown = false;
  const auto method = amqp::decode_method(payload, id, unknown);
  if (payload.size() > 4) check_table(payload.substr(4));
  if (!method) return;
  const std::string encoded = encode_method_payload(*method);
  const auto again = amqp::decode_method(encoded, id, unknown);
  BALLAST_CHECK(again.has_value(), "re-encoded {} does not decode",
                amqp::method_name(id.class_id, id.method_id));
  BALLAST_CHECK(encode_method_payload(*again) == encoded, "{} does not survive a second round trip",
                amqp::method_name(id.class_id, id.method_id));
}

void check_content_header(std::string_view payload) {
  if (payload.size() < kContentHeaderPrefixBytes) return;
  amqp::WireReader reader(payload.substr(kContentHeaderPrefixBytes));
  amqp::BasicProperties properties;
  if (!amqp::decode(reader, properties)) return;
  if (properties.headers) check_table(properties.headers->raw);
  std::string encoded;
  amqp::WireWriter writer(encoded);
  amqp::encode(properties, writer);
  amqp::WireReader again_reader(encoded);
  amqp::BasicProperties again;
  BALLAST_CHECK(amqp::decode(again_reader, again) && again == properties && again_reader.remaining() == 0,
                "basic properties do not survive a round trip");
}

// Part 1: every frame of the input through the decoders.
void check_decoders(std::string_view input) {
  if (input.starts_with("AMQP")) input.remove_prefix(std::min(input.size(), amqp::kProtocolHeader.size()));
  Frame frame;
  size_t consumed = 0;
  while (amqp::next_frame(input, kFrameMax, frame, consumed) == FrameParse::kFrame) {
    BALLAST_CHECK(consumed == frame.payload.size() + amqp::kFrameOverhead && consumed <= input.size(),
                  "a frame of {} bytes consumed {} of {}", frame.payload.size(), consumed, input.size());
    if (frame.type == static_cast<uint8_t>(FrameType::kMethod)) check_method(frame.payload);
    if (frame.type == static_cast<uint8_t>(FrameType::kHeader)) check_content_header(frame.payload);
    input.remove_prefix(consumed);
  }
}

// Part 2's transport: keeps what the server writes, runs posted broker answers on the fuzz
// thread, and says when nothing is left to wait for.
class FuzzTransport final : public amqp::ConnectionIo {
 public:
  Poster poster() override {
    return [this](std::function<void()> task) {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
      changed_.notify_one();
    };
  }
  void output_ready() override { output_pending_ = true; }
  void close_after_output() override { close_requested_ = true; }
  void input_wanted() override {}

  // Wakes settle(); passed to TrackedBroker as its `answered` hook.
  void wake() {
    std::lock_guard lock(mu_);
    changed_.notify_one();
  }

  void start(std::shared_ptr<amqp::Connection> connection) {
    connection_ = std::move(connection);
    written_.clear();
    output_pending_ = close_requested_ = false;
  }

  // Runs answers and "writes" output until `tracked` has no call left (nor long poll, with
  // `include_long_polls`); aborts after kSettleTimeout: the connection or broker hangs.
  void settle(const TrackedBroker& tracked, bool include_long_polls) {
    const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
    while (true) {
      write_output();
      const bool broker_done =
          tracked.unanswered_calls() == 0 && (!include_long_polls || tracked.unanswered_long_polls() == 0);
      std::unique_lock lock(mu_);
      if (tasks_.empty() && broker_done && !output_pending_) return;
      BALLAST_CHECK(std::chrono::steady_clock::now() < deadline,
                    "the AMQP connection did not settle: {} broker calls, {} long polls unanswered",
                    tracked.unanswered_calls(), tracked.unanswered_long_polls());
      if (tasks_.empty()) {
        changed_.wait_for(lock, std::chrono::milliseconds(50));
        continue;
      }
      std::deque<std::function<void()>> ready;
      ready.swap(tasks_);
      lock.unlock();
      for (auto& task : ready) task();
    }
  }

  void finish() { connection_.reset(); }
  const std::string& written() const { return written_; }

 private:
  void write_output() {
    if (!output_pending_) return;
    output_pending_ = false;
    written_.append(connection_->outbox());
    connection_->outbox().clear();
    if (!close_requested_) connection_->on_output_drained();
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  std::shared_ptr<amqp::Connection> connection_;
  std::string written_;
  bool output_pending_ = false;
  bool close_requested_ = false;
};

void check_server_output(std::string_view output) {
  if (output.starts_with(amqp::kProtocolHeader)) {
    BALLAST_CHECK(output == amqp::kProtocolHeader, "{} bytes after the protocol header answer",
                  output.size() - amqp::kProtocolHeader.size());
    return;
  }
  Frame frame;
  size_t consumed = 0;
  while (!output.empty()) {
    const FrameParse parsed = amqp::next_frame(output, kFrameMax, frame, consumed);
    BALLAST_CHECK(parsed == FrameParse::kFrame, "the server wrote a malformed frame ({} bytes left)",
                  output.size());
    if (frame.type == static_cast<uint8_t>(FrameType::kMethod)) {
      amqp::MethodId id;
      bool unknown = false;
      BALLAST_CHECK(amqp::decode_method(frame.payload, id, unknown).has_value(),
                    "the server wrote a method {}.{} that does not decode", id.class_id, id.method_id);
    }
    output.remove_prefix(consumed);
  }
}

// Part 2: one client connection that sends `input` and then goes away.
void run_connection(std::string_view input) {
  static ScratchBroker scratch;
  static FuzzTransport transport;
  TrackedBroker tracked(scratch.next_input(), [] { transport.wake(); });
  amqp::Registry registry;
  amqp::AmqpOptions options;
  options.max_message_bytes = ScratchBroker::kMaxMessageBytes;
  auto connection = std::make_shared<amqp::Connection>(tracked, registry, transport, options, "fuzz");
  transport.start(connection);
  connection->on_bytes(input);
  transport.settle(tracked, false);
  connection->on_timer(amqp::steady_now_ms());
  transport.settle(tracked, false);
  connection->on_transport_closed();
  transport.settle(tracked, true);
  transport.finish();
  check_server_output(transport.written());
}

}  // namespace
}  // namespace ballast::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ballast::fuzz::check_decoders(input);
  ballast::fuzz::run_connection(input);
  return 0;
}

#pragma once
// AMQP 0-9-1 framing (spec section 4.2.3): type, channel, size, payload, frame-end 0xCE.
// next_frame() cuts one frame off the front of a receive buffer without copying; the writers
// append encoded frames to an output buffer.
// Thread-safe: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/amqp091/methods.h"
#include "protocol/amqp091/wire.h"

namespace ballast::amqp {

enum class FrameType : uint8_t { kMethod = 1, kHeader = 2, kBody = 3, kHeartbeat = 8 };
inline constexpr uint8_t kFrameEnd = 0xCE;
inline constexpr size_t kFrameOverhead = 8;  // 7-byte header + frame-end
inline constexpr std::string_view kProtocolHeader{"AMQP\x00\x00\x09\x01", 8};

struct Frame {
  uint8_t type = 0;
  uint16_t channel = 0;
  std::string_view payload;  // points into the receive buffer
};

enum class FrameParse {
  kFrame,     // `frame` is set; `consumed` bytes belong to it
  kNeedMore,  // the buffer holds only part of a frame
  kBadEnd,    // the byte after the payload is not 0xCE
  kTooLarge,  // the frame is larger than frame_max
};

FrameParse next_frame(std::string_view buffer, uint32_t frame_max, Frame& frame, size_t& consumed);

void write_frame(std::string& out, FrameType type, uint16_t channel, std::string_view payload);
void write_heartbeat(std::string& out);

template <typename M>
void write_method(std::string& out, uint16_t channel, const M& method) {
  const size_t start = out.size();
  out.append(7, '\0');
  WireWriter writer(out);
  encode_method(method, writer);
  const auto size = static_cast<uint32_t>(out.size() - start - 7);
  out[start] = static_cast<char>(FrameType::kMethod);
  out[start + 1] = static_cast<char>(channel >> 8);
  out[start + 2] = static_cast<char>(channel & 0xFF);
  for (int i = 0; i < 4; ++i) out[start + 3 + i] = static_cast<char>((size >> (24 - 8 * i)) & 0xFF);
  out.push_back(static_cast<char>(kFrameEnd));
}

// The content header (class basic, the given property flags and list) and the body, cut into
// body frames of at most frame_max bytes each.
void write_content(std::string& out, uint16_t channel, std::string_view properties, std::string_view body,
                   uint32_t frame_max);

}  // namespace ballast::amqp

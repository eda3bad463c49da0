#include "protocol/amqp091/frame.h"

#include <algorithm>

namespace ballast::amqp {
namespace {

constexpr uint16_t kBasicClassId = 60;

uint32_t read_be32(std::string_view bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

void put_header(std::string& out, FrameType type, uint16_t channel, uint32_t size) {
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(channel >> 8));
  out.push_back(static_cast<char>(channel & 0xFF));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xFF));
}

}  // namespace

FrameParse next_frame(std::string_view buffer, uint32_t frame_max, Frame& frame, size_t& consumed) {
  if (buffer.size() < 7) return FrameParse::kNeedMore;
  const uint32_t size = read_be32(buffer.substr(3, 4));
  if (frame_max != 0 && static_cast<uint64_t>(size) + kFrameOverhead > frame_max)
    return FrameParse::kTooLarge;
  if (buffer.size() < size + kFrameOverhead) return FrameParse::kNeedMore;
  if (static_cast<uint8_t>(buffer[7 + size]) != kFrameEnd) return FrameParse::kBadEnd;
  frame.type = static_cast<uint8_t>(buffer[0]);
  frame.channel =
      static_cast<uint16_t>((static_cast<uint8_t>(buffer[1]) << 8) | static_cast<uint8_t>(buffer[2]));
  frame.payload = buffer.substr(7, size);
  consumed = size + kFrameOverhead;
  return FrameParse::kFrame;
}

void write_frame(std::string& out, FrameType type, uint16_t channel, std::string_view payload) {
  put_header(out, type, channel, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  out.push_back(static_cast<char>(kFrameEnd));
}

void write_heartbeat(std::string& out) {
  write_frame(out, FrameType::kHeartbeat, 0, {});
}

void write_content(std::string& out, uint16_t channel, std::string_view properties, std::string_view body,
                   uint32_t frame_max) {
  // Header payload: class id, weight, body size, then the property flags and list.
  put_header(out, FrameType::kHeader, channel, static_cast<uint32_t>(12 + properties.size()));
  WireWriter writer(out);
  writer.short_(kBasicClassId);
  writer.short_(0);
  writer.longlong(body.size());
  writer.raw(properties);
  out.push_back(static_cast<char>(kFrameEnd));
  const size_t chunk = frame_max > kFrameOverhead ? frame_max - kFrameOverhead : body.size();
  for (size_t offset = 0; offset < body.size(); offset += chunk) {
    write_frame(out, FrameType::kBody, channel, body.substr(offset, std::min(chunk, body.size() - offset)));
  }
}

}  // namespace ballast::amqp

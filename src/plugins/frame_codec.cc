#include "plugins/frame_codec.h"

#include <fmt/format.h>

namespace ballast::plugins {

namespace {

constexpr size_t kLengthBytes = 4;

uint32_t read_length(std::string_view bytes) {
  uint32_t length = 0;
  for (size_t i = 0; i < kLengthBytes; ++i) length = (length << 8) | static_cast<uint8_t>(bytes[i]);
  return length;
}

constexpr std::string_view kFix =
    "the plug-in must write frames as docs/plugins.md describes (4-byte big-endian length, then "
    "one JSON object with a \"type\"); fix or replace the plug-in. The broker restarts it";

}  // namespace

std::string encode_frame(const nlohmann::json& object) {
  const std::string text = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto length = static_cast<uint32_t>(text.size());
  std::string frame;
  frame.reserve(kLengthBytes + text.size());
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((length >> shift) & 0xff));
  frame += text;
  return frame;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (broken_) return;
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

Error FrameDecoder::broken(std::string message) {
  broken_ = Error(ErrorCode::kPluginUnavailable, std::move(message), std::string(kFix));
  return *broken_;
}

Result<std::optional<nlohmann::json>> FrameDecoder::next() {
  if (broken_) return *broken_;
  const std::string_view pending = std::string_view(buffer_).substr(consumed_);
  if (pending.size() < kLengthBytes) return std::optional<nlohmann::json>();
  const uint32_t length = read_length(pending);
  if (length > kMaxFrameBytes) {
    return broken(fmt::format("frame length {} is over the {} byte cap; first bytes: \"{}\"", length,
                              kMaxFrameBytes, quote_bytes(pending)));
  }
  if (pending.size() - kLengthBytes < length) return std::optional<nlohmann::json>();
  const std::string_view payload = pending.substr(kLengthBytes, length);
  nlohmann::json parsed = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return broken(fmt::format("a frame of {} bytes is not a JSON object; first bytes: \"{}\"", length,
                              quote_bytes(payload)));
  }
  if (!parsed.contains("type") || !parsed["type"].is_string()) {
    return broken(
        fmt::format("a frame has no string member \"type\"; first bytes: \"{}\"", quote_bytes(payload)));
  }
  consumed_ += kLengthBytes + length;
  if (consumed_ > (1u << 20) && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return std::optional<nlohmann::json>(std::move(parsed));
}

std::string quote_bytes(std::string_view bytes, size_t max_bytes) {
  std::string quoted;
  for (size_t i = 0; i < bytes.size() && i < max_bytes; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      quoted.push_back(static_cast<char>(byte));
    } else {
      quoted += fmt::format("\\x{:02x}", byte);
    }
  }
  if (bytes.size() > max_bytes) quoted += "...";
  return quoted;
}

}  // namespace ballast::plugins

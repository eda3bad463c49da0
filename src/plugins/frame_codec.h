#pragma once
// The plug-in wire format (docs/plugins.md, "Frames"; docs/formats/plugin-frames.md): a 4-byte
// unsigned big-endian length, then that many bytes of UTF-8 JSON holding one object with a
// string member "type". A frame is at most kMaxFrameBytes.
// Not thread-safe: one decoder per plug-in process, used by its supervisor.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ballast::plugins {

inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

// The bytes of one frame holding `object` (which must be a JSON object with a "type").
std::string encode_frame(const nlohmann::json& object);

// Turns the bytes read from a plug-in into frames. Feed it whatever each read returned; take
// complete frames with next(). After next() has returned an error the stream is broken: every
// later call returns the same error (the supervisor kills the process).
class FrameDecoder {
 public:
  void feed(std::string_view bytes);

  // The next complete frame, nothing when more bytes are needed, or PLUGIN_UNAVAILABLE naming
  // what is wrong (a length over the cap, bytes that are not a JSON object, no string "type")
  // and quoting the first bytes of the frame. The caller adds the plug-in's name.
  Result<std::optional<nlohmann::json>> next();

  // Bytes fed but not yet taken as frames.
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  Error broken(std::string message);

  std::string buffer_;
  size_t consumed_ = 0;
  std::optional<Error> broken_;
};

// Up to `max_bytes` of `bytes` as printable text: other bytes as \xNN (for protocol errors).
std::string quote_bytes(std::string_view bytes, size_t max_bytes = 64);

}  // namespace ballast::plugins

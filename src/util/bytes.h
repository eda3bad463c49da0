#pragma once
// Little-endian encoding helpers for everything written to disk or sent between processes.
// ByteWriter appends to a std::string; ByteReader reads with bounds checks and reports a short
// or malformed input as a failed read (never reads past the end, never aborts).
// Not thread-safe: plain values.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace ballast {

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}

  void u8(uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void u16(uint16_t value) { put(value, 2); }
  void u32(uint32_t value) { put(value, 4); }
  void u64(uint64_t value) { put(value, 8); }
  void i64(int64_t value) { put(static_cast<uint64_t>(value), 8); }
  // u32 length, then the bytes.
  void str(std::string_view value) {
    u32(static_cast<uint32_t>(value.size()));
    out_.append(value);
  }
  void raw(std::string_view value) { out_.append(value); }

 private:
  void put(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
  }
  std::string& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}
  explicit ByteReader(std::string_view in) : in_(std::as_bytes(std::span(in.data(), in.size()))) {}

  bool u8(uint8_t& value) { return get(value, 1); }
  bool u16(uint16_t& value) { return get(value, 2); }
  bool u32(uint32_t& value) { return get(value, 4); }
  bool u64(uint64_t& value) { return get(value, 8); }
  bool i64(int64_t& value) {
    uint64_t raw = 0;
    if (!get(raw, 8)) return false;
    value = static_cast<int64_t>(raw);
    return true;
  }
  bool str(std::string& value) {
    uint32_t length = 0;
    if (!u32(length) || length > remaining()) return false;
    value.assign(reinterpret_cast<const char*>(in_.data() + position_), length);
    position_ += length;
    return true;
  }
  bool skip(size_t bytes) {
    if (bytes > remaining()) return false;
    position_ += bytes;
    return true;
  }
  size_t remaining() const { return in_.size() - position_; }
  size_t position() const { return position_; }

 private:
  template <typename T>
  bool get(T& value, int bytes) {
    if (remaining() < static_cast<size_t>(bytes)) return false;
    uint64_t result = 0;
    for (int i = 0; i < bytes; ++i) {
      result |= static_cast<uint64_t>(std::to_integer<uint8_t>(in_[position_ + i])) << (8 * i);
    }
    position_ += bytes;
    value = static_cast<T>(result);
    return true;
  }
  std::span<const std::byte> in_;
  size_t position_ = 0;
};

}  // namespace ballast

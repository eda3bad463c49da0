#include "util/base64.h"

#include <array>
#include <cstdint>

namespace ballast {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_reverse() {
  std::array<int8_t, 256> reverse{};
  for (auto& value : reverse) value = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i)
    reverse[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return reverse;
}

constexpr auto kReverse = make_reverse();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t triple = (static_cast<uint8_t>(bytes[i]) << 16) |
                            (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(triple >> shift) & 0x3F]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  uint32_t triple = static_cast<uint8_t>(bytes[i]) << 16;
  if (rest == 2) triple |= static_cast<uint8_t>(bytes[i + 1]) << 8;
  out.push_back(kAlphabet[(triple >> 18) & 0x3F]);
  out.push_back(kAlphabet[(triple >> 12) & 0x3F]);
  out.push_back(rest == 2 ? kAlphabet[(triple >> 6) & 0x3F] : '=');
  out.push_back('=');
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t padding = last ? (text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0) : 0;
    uint32_t quad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (k >= 4 - padding) {
        if (c != '=') return std::nullopt;
        quad <<= 6;
        continue;
      }
      const int8_t value = kReverse[static_cast<uint8_t>(c)];
      if (value < 0) return std::nullopt;
      quad = (quad << 6) | static_cast<uint32_t>(value);
    }
    out.push_back(static_cast<char>((quad >> 16) & 0xFF));
    if (padding < 2) out.push_back(static_cast<char>((quad >> 8) & 0xFF));
    if (padding < 1) out.push_back(static_cast<char>(quad & 0xFF));
  }
  return out;
}

}  // namespace ballast

#include "util/crc32c.h"

#include <array>
#include <cstring>

namespace ballast {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kPolynomial : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr auto kTable = make_table();

uint32_t extend_software(uint32_t crc, const unsigned char* data, size_t size) {
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kTable[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t extend_hardware(uint32_t crc, const unsigned char* data,
                                                           size_t size) {
  uint64_t state = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    state = __builtin_ia32_crc32di(state, word);
    data += 8;
    size -= 8;
  }
  auto narrow = static_cast<uint32_t>(state);
  while (size > 0) {
    narrow = __builtin_ia32_crc32qi(narrow, *data);
    ++data;
    --size;
  }
  return ~narrow;
}

bool detect_hardware() {
  return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t extend_hardware(uint32_t crc, const unsigned char* data, size_t size) {
  return extend_software(crc, data, size);
}
bool detect_hardware() {
  return false;
}
#endif

const bool kHardware = detect_hardware();

}  // namespace

uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (kHardware) return extend_hardware(crc, data, bytes.size());
  return extend_software(crc, data, bytes.size());
}

bool crc32c_uses_hardware() {
  return kHardware;
}

}  // namespace ballast

#pragma once
// CRC32C (Castagnoli), the checksum of every journal record (docs/formats/journal.md).
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise; both give the
// same value. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ballast {

// Extends `crc` (0 to start) over `bytes`.
uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> bytes);

inline uint32_t crc32c(std::span<const std::byte> bytes) {
  return crc32c_extend(0, bytes);
}

// True when the hardware path is in use (reported by the benchmark).
bool crc32c_uses_hardware();

}  // namespace ballast

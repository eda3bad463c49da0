#include "util/crc32c.h"

#include <gtest/gtest.h>

#include <string_view>

namespace ballast {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // The CRC-32C check value from RFC 3720 / the Rocksoft catalogue.
  EXPECT_EQ(crc32c(bytes_of("123456789")), 0xE3069283u);
}

TEST(Crc32c, ExtendingInPiecesEqualsOneCall) {
  const std::string_view text = "the quick brown fox jumps over the lazy dog, twice over";
  const uint32_t whole = crc32c(bytes_of(text));
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const uint32_t first = crc32c(bytes_of(text.substr(0, cut)));
    EXPECT_EQ(crc32c_extend(first, bytes_of(text.substr(cut))), whole) << "cut at " << cut;
  }
}

TEST(Crc32c, EmptyInputIsZero) {
  EXPECT_EQ(crc32c({}), 0u);
}

}  // namespace
}  // namespace ballast

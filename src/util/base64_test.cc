#include "util/base64.h"

#include <gtest/gtest.h>

namespace ballast {
namespace {

TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t length = 0; length <= bytes.size(); length += 7) {
    const auto decoded = base64_decode(base64_encode(bytes.substr(0, length)));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, bytes.substr(0, length));
  }
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(base64_decode("Zg=").has_value());
  EXPECT_FALSE(base64_decode("Z!==").has_value());
  EXPECT_FALSE(base64_decode("Zg=a").has_value());
  EXPECT_FALSE(base64_decode("=Zg=").has_value());
}

}  // namespace
}  // namespace ballast

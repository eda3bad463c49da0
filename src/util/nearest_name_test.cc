#include "util/nearest_name.h"

#include <gtest/gtest.h>

namespace ballast {
namespace {

TEST(NearestName, SuggestsTheClosestKeyWithinTheLimit) {
  const std::vector<std::string_view> keys = {"max_length", "max_bytes", "overflow"};
  EXPECT_EQ(nearest_name("max_lenght", keys, 3), "max_length");
  EXPECT_EQ(nearest_name("completely_different", keys, 3), std::nullopt);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace ballast

#include "tools/line_batcher.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

std::vector<std::vector<std::string>> all_batches(const std::string& text, size_t max) {
  std::istringstream input(text);
  LineBatcher batcher(input, "stdin", max);
  std::vector<std::vector<std::string>> batches;
  for (int i = 0; i < 1000; ++i) {
    auto batch = batcher.next_batch();
    EXPECT_TRUE(batch.ok());
    if (!batch.ok() || batch->empty()) break;
    batches.push_back(std::move(*batch));
  }
  return batches;
}

TEST(LineBatcher, OneLineIsOneMessage) {
  using Batches = std::vector<std::vector<std::string>>;
  EXPECT_EQ(all_batches("a\nb\r\n\nc", 10), (Batches{{"a", "b", "", "c"}}));
  EXPECT_EQ(all_batches("a\n", 10), (Batches{{"a"}}));
  EXPECT_EQ(all_batches("", 10), Batches{});
}

TEST(LineBatcher, SplitsIntoBatchesOfAtMostTheMaximum) {
  std::string text;
  for (int i = 0; i < 1201; ++i) text += std::to_string(i) + "\n";
  const auto batches = all_batches(text, 500);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 500u);
  EXPECT_EQ(batches[1].size(), 500u);
  EXPECT_EQ(batches[2].size(), 201u);
  EXPECT_EQ(batches[0].front(), "0");
  EXPECT_EQ(batches[1].front(), "500");
  EXPECT_EQ(batches[2].back(), "1200");
}

TEST(LineBatcher, ExactMultipleEndsWithAnEmptyBatch) {
  const auto batches = all_batches("a\nb\nc\nd\n", 2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"c", "d"}));
}

TEST(LineBatcher, KeepsBinaryBytes) {
  const std::string binary("\xFF\x00\xFE", 3);
  const auto batches = all_batches(binary + "\n", 10);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0][0], binary);
}

TEST(LineBatcher, UnreadableSourceIsAnErrorNamingIt) {
  std::ifstream directory("/", std::ios::binary);
  LineBatcher batcher(directory, "/", 10);
  auto batch = batcher.next_batch();
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(batch.error().message().find("/"), std::string::npos);
}

}  // namespace
}  // namespace ballast::tools

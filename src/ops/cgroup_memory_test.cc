#include "ops/cgroup_memory.h"

#include <gtest/gtest.h>

#include <fstream>

#include "broker/broker_test_support.h"

namespace ballast::ops {
namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(CgroupMemory, V2TakesTheSmallestLimitOnThePathToTheRoot) {
  broker::testing::TempDir root;
  write_file(root.path() / "memory.max", "max\n");
  write_file(root.path() / "system.slice" / "memory.max", "1048576\n");
  write_file(root.path() / "system.slice" / "ballast.service" / "memory.max", "4194304\n");
  const auto limit = read_cgroup_memory_limit(root.path(), "0::/system.slice/ballast.service\n");
  EXPECT_EQ(limit.version, 2);
  ASSERT_TRUE(limit.limit_bytes.has_value());
  EXPECT_EQ(*limit.limit_bytes, 1048576u);
  EXPECT_EQ(limit.source, root.path() / "system.slice" / "memory.max");
}

TEST(CgroupMemory, V2MaxMeansNoLimit) {
  broker::testing::TempDir root;
  write_file(root.path() / "memory.max", "max\n");
  const auto limit = read_cgroup_memory_limit(root.path(), "0::/\n");
  EXPECT_EQ(limit.version, 2);
  EXPECT_FALSE(limit.limit_bytes.has_value());
}

TEST(CgroupMemory, V1MemoryControllerWinsOverTheUnifiedLine) {
  broker::testing::TempDir root;
  write_file(root.path() / "memory" / "docker" / "abc" / "memory.limit_in_bytes", "536870912\n");
  write_file(root.path() / "memory" / "memory.limit_in_bytes", "9223372036854771712\n");
  const auto limit = read_cgroup_memory_limit(root.path(), "4:memory:/docker/abc\n0::/\n");
  EXPECT_EQ(limit.version, 1);
  ASSERT_TRUE(limit.limit_bytes.has_value());
  EXPECT_EQ(*limit.limit_bytes, 536870912u);
}

TEST(CgroupMemory, V1HugeValueMeansNoLimit) {
  broker::testing::TempDir root;
  write_file(root.path() / "memory" / "memory.limit_in_bytes", "9223372036854771712\n");
  const auto limit = read_cgroup_memory_limit(root.path(), "9:cpu,memory:/elsewhere\n");
  EXPECT_EQ(limit.version, 1);
  EXPECT_FALSE(limit.limit_bytes.has_value());
}

TEST(CgroupMemory, NothingFoundIsVersionZero) {
  broker::testing::TempDir root;
  EXPECT_EQ(read_cgroup_memory_limit(root.path(), "0::/\n").version, 0);
  EXPECT_EQ(read_cgroup_memory_limit(root.path(), "").version, 0);
}

}  // namespace
}  // namespace ballast::ops

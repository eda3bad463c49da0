#include "util/process_memory.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ballast {
namespace {

std::string write_temp(const std::string& text) {
  char pattern[] = "/tmp/ballast-statm-XXXXXX";
  const int fd = ::mkstemp(pattern);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(pattern) << text;
  return pattern;
}

TEST(ProcessMemory, ReadsTheResidentPagesOfThisProcess) {
  auto bytes = resident_memory_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.error().describe();
  EXPECT_GT(*bytes, 1u << 20);  // a running test binary holds more than 1 MiB
}

TEST(ProcessMemory, MultipliesTheSecondFieldByThePageSize) {
  const std::string path = write_temp("1000 250 30 5 0 400 0\n");
  auto bytes = resident_memory_bytes(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(bytes.ok()) << bytes.error().describe();
  EXPECT_EQ(*bytes, 250u * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
}

TEST(ProcessMemory, NamesTheFileWhenItDoesNotParse) {
  const std::string path = write_temp("garbage");
  auto bytes = resident_memory_bytes(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.error().code(), ErrorCode::kBrokerMemoryLimit);
  EXPECT_NE(bytes.error().message().find(path), std::string::npos) << bytes.error().message();
}

TEST(ProcessMemory, NamesTheFileWhenItIsMissing) {
  auto bytes = resident_memory_bytes("/nonexistent/statm");
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.error().message().find("/nonexistent/statm"), std::string::npos);
}

}  // namespace
}  // namespace ballast

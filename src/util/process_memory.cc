#include "util/process_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace ballast {
namespace {

constexpr std::string_view kFix =
    "check that /proc is mounted and readable by the broker's user; until then "
    "limits.max_memory_bytes cannot be enforced";

Error statm_error(const std::string& path, std::string_view why) {
  return Error(ErrorCode::kBrokerMemoryLimit,
               fmt::format("cannot read the memory use from {}: {}", path, why), std::string(kFix));
}

// statm's fields are page counts: "size resident shared text lib data dt".
Result<uint64_t> parse_resident_pages(const std::string& path, std::string_view text) {
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return statm_error(path, "it does not hold two numbers");
  const std::string_view resident = text.substr(space + 1);
  uint64_t pages = 0;
  auto [end, error] = std::from_chars(resident.data(), resident.data() + resident.size(), pages);
  if (error != std::errc() || end == resident.data())
    return statm_error(path, "its second field is no number");
  return pages;
}

}  // namespace

Result<uint64_t> resident_memory_bytes(const std::string& statm_path) {
  const int fd = ::open(statm_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return statm_error(statm_path, std::strerror(errno));
  char buffer[256];
  const ssize_t got = ::read(fd, buffer, sizeof buffer - 1);
  const int read_errno = errno;
  ::close(fd);
  if (got < 0) return statm_error(statm_path, std::strerror(read_errno));
  auto pages = parse_resident_pages(statm_path, std::string_view(buffer, static_cast<size_t>(got)));
  if (!pages) return std::move(pages).error();
  return *pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace ballast

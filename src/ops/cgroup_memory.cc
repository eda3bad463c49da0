#include "ops/cgroup_memory.h"

#include <charconv>
#include <fstream>

#include "util/proc_cgroup.h"

namespace ballast::ops {
namespace {

// v1 reports "no limit" as a page-rounded LONG_MAX.
constexpr uint64_t kUnlimitedV1 = 1ull << 62;

struct CgroupPlace {
  int version = 0;
  std::filesystem::path hierarchy;  // relative to the root: "" for v2, "memory" for v1
  std::string path;                 // the process's cgroup inside that hierarchy
};

CgroupPlace find_place(const std::string& proc_self_cgroup) {
  // The v1 memory controller wins when both are present.
  if (auto path = proc_cgroup_path(proc_self_cgroup, "memory")) return CgroupPlace{1, "memory", *path};
  if (auto path = proc_cgroup_path(proc_self_cgroup, "")) return CgroupPlace{2, "", *path};
  return CgroupPlace{};
}

// The limit in one file: empty optional for "max" or an unlimited v1 value, nothing read when
// the file is missing or unreadable.
std::optional<std::optional<uint64_t>> read_limit_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!in || !(in >> text)) return std::nullopt;
  if (text == "max") return std::optional<uint64_t>();
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value >= kUnlimitedV1) return std::optional<uint64_t>();
  return std::optional<uint64_t>(value);
}

// "/a/b/" -> "/a/b", so that paths compare equal and parent_path() climbs.
std::filesystem::path without_trailing_slash(std::filesystem::path path) {
  path = path.lexically_normal();
  if (path.has_relative_path() && path.filename().empty()) path = path.parent_path();
  return path;
}

}  // namespace

CgroupMemoryLimit read_cgroup_memory_limit(const std::filesystem::path& cgroup_root,
                                           const std::string& proc_self_cgroup) {
  const CgroupPlace place = find_place(proc_self_cgroup);
  CgroupMemoryLimit result;
  if (place.version == 0) return result;
  const char* file_name = place.version == 2 ? "memory.max" : "memory.limit_in_bytes";
  const std::filesystem::path top = without_trailing_slash(cgroup_root / place.hierarchy);
  std::filesystem::path dir = without_trailing_slash(top / std::filesystem::path(place.path).relative_path());
  // From the process's cgroup up to the top of the hierarchy, bounded by the path's depth.
  for (size_t depth = 0; depth < 64; ++depth) {
    const std::filesystem::path file = dir / file_name;
    if (auto limit = read_limit_file(file)) {
      if (result.version == 0) result.source = file;
      result.version = place.version;
      if (*limit && (!result.limit_bytes || **limit < *result.limit_bytes)) {
        result.limit_bytes = *limit;
        result.source = file;
      }
    }
    if (dir == top || dir == dir.parent_path() || dir.lexically_relative(top).string().starts_with(".."))
      break;
    dir = dir.parent_path();
  }
  return result;
}

}  // namespace ballast::ops

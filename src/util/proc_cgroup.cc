#include "util/proc_cgroup.h"

#include <sstream>

namespace ballast {

std::optional<std::string> proc_cgroup_path(const std::string& proc_cgroup_text,
                                            std::string_view controller) {
  std::istringstream lines(proc_cgroup_text);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controller.empty()) {
      if (line.starts_with("0::")) return path;
      continue;
    }
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) {
      if (name == controller) return path;
    }
  }
  return std::nullopt;
}

}  // namespace ballast

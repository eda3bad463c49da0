#include "tools/api_paths.h"

#include <fmt/format.h>

namespace ballast::tools {
namespace {

constexpr std::string_view kDefaultVhost = "/";

// Spelled out rather than std::isalnum, which depends on the locale.
bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string queues_path(std::string_view vhost) {
  if (vhost == kDefaultVhost) return "/api/v1/queues";
  return fmt::format("/api/v1/vhosts/{}/queues", percent_encode(vhost));
}

}  // namespace

std::string percent_encode(std::string_view text) {
  std::string encoded;
  encoded.reserve(text.size());
  for (const char c : text) {
    if (is_unreserved(c)) {
      encoded.push_back(c);
    } else {
      encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return encoded;
}

ApiPaths::ApiPaths(std::string_view vhost) : queues_(queues_path(vhost)) {}

std::string ApiPaths::queue(std::string_view queue) const {
  return fmt::format("{}/{}", queues_, percent_encode(queue));
}

std::string ApiPaths::queue_action(std::string_view queue, std::string_view action) const {
  return fmt::format("{}/{}/{}", queues_, percent_encode(queue), action);
}

std::string ApiPaths::peek(std::string_view queue, uint32_t max) const {
  return fmt::format("{}?max={}", queue_action(queue, "messages"), max);
}

std::string ApiPaths::plugin(std::string_view name, std::string_view action) {
  std::string target = plugins() + "/" + percent_encode(name);
  if (!action.empty()) target += "/" + std::string(action);
  return target;
}

}  // namespace ballast::tools

#include "broker/names.h"

#include <fmt/format.h>

#include "util/utf8.h"

namespace ballast::broker {

Status validate_name(std::string_view what, const std::string& name) {
  const auto invalid = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("{} name \"{}\" {}", what, name, why),
                 fmt::format("use 1-{} bytes of UTF-8 without control characters", kMaxQueueNameBytes));
  };
  if (name.empty() || name.size() > kMaxQueueNameBytes) {
    return invalid(fmt::format("is {} bytes long", name.size()));
  }
  if (!is_valid_utf8(name)) return invalid("is not valid UTF-8");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return invalid("contains a control character");
  }
  return ok_status();
}

}  // namespace ballast::broker

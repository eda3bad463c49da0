#pragma once
// The rule for vhost and queue names: 1 to 255 bytes of UTF-8 without control characters.
// Thread-safe: a pure function.

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ballast::broker {

inline constexpr size_t kMaxQueueNameBytes = 255;

// INVALID_ARGUMENT naming `what` ("queue", "vhost"), the name and why, with the rule as the fix.
Status validate_name(std::string_view what, const std::string& name);

}  // namespace ballast::broker

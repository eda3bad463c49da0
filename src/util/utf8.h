#pragma once
// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
// Thread-safe: pure function.

#include <string_view>

namespace ballast {

bool is_valid_utf8(std::string_view text);

}  // namespace ballast

#pragma once
// Standard base64 (RFC 4648, with padding) for message bodies given as "encoding": "base64".
// Decoding rejects anything that is not canonical base64 (bad characters, bad padding).
// Thread-safe: pure functions.

#include <optional>
#include <string>
#include <string_view>

namespace ballast {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ballast

#pragma once
// JSON text for requests and for --json output. Serializing never throws: strings that are not
// valid UTF-8 have their bad bytes replaced by U+FFFD (callers send non-UTF-8 bodies as base64).
// Thread-safe: a pure function.

#include <string>

#include <nlohmann/json.hpp>

namespace ballast::tools {

// Compact, one-line JSON.
inline std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ballast::tools

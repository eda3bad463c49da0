#pragma once
// What `ballast send` puts on each message besides its body, and the JSON message objects of a
// publish request built from it.
// Thread-safe: a plain value and pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace ballast::tools {

struct MessageOptions {
  std::vector<std::string> headers;  // "NAME=VALUE", from repeated --header
  std::string content_type;          // not sent when empty
  std::string id;                    // for idempotent publish; the server assigns one when empty
  std::optional<uint32_t> priority;
  std::optional<uint32_t> delay_seconds;
  std::optional<uint32_t> ttl_seconds;
};

// Fails with INVALID_ARGUMENT naming the option when a header is not NAME=VALUE with a
// non-empty NAME, or when a header, the content type or the id is not valid UTF-8.
Status check_message_options(const MessageOptions& options);

// One message object of a publish request: the body as "utf8" when it is valid UTF-8, else
// base64 with "encoding": "base64"; then the options that are set.
// Requires check_message_options(options) to have succeeded.
nlohmann::json message_json(std::string_view body, const MessageOptions& options);

// The "messages" array of a publish request: message_json() of each body, in order.
nlohmann::json messages_json(const std::vector<std::string>& bodies, const MessageOptions& options);

}  // namespace ballast::tools

#include "tools/message_options.h"

#include "util/base64.h"
#include "util/utf8.h"

namespace ballast::tools {

using nlohmann::json;

namespace {

Status check_utf8(std::string_view option, std::string_view value) {
  if (is_valid_utf8(value)) return ok_status();
  return Error(ErrorCode::kInvalidArgument, fmt::format("{} is not valid UTF-8", option),
               fmt::format("write {} as UTF-8 text; only message bodies may be binary", option));
}

Status check_header(const std::string& header) {
  const auto equals = header.find('=');
  if (equals == std::string::npos || equals == 0) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("--header \"{}\" is not NAME=VALUE", header),
                 "write each header as --header NAME=VALUE, e.g. --header tenant=acme");
  }
  return check_utf8(fmt::format("--header \"{}\"", header.substr(0, equals)), header);
}

json headers_json(const std::vector<std::string>& headers) {
  json object = json::object();
  for (const auto& header : headers) {
    const auto equals = header.find('=');
    object[header.substr(0, equals)] = header.substr(equals + 1);
  }
  return object;
}

}  // namespace

Status check_message_options(const MessageOptions& options) {
  for (const auto& header : options.headers) {
    auto checked = check_header(header);
    if (!checked) return checked;
  }
  auto content_type = check_utf8("--content-type", options.content_type);
  if (!content_type) return content_type;
  return check_utf8("--id", options.id);
}

json message_json(std::string_view body, const MessageOptions& options) {
  json message = json::object();
  if (is_valid_utf8(body)) {
    message["body"] = std::string(body);
  } else {
    message["body"] = base64_encode(body);
    message["encoding"] = "base64";
  }
  if (!options.headers.empty()) message["headers"] = headers_json(options.headers);
  if (!options.content_type.empty()) message["content_type"] = options.content_type;
  if (!options.id.empty()) message["id"] = options.id;
  if (options.priority) message["priority"] = *options.priority;
  if (options.delay_seconds) message["delay_seconds"] = *options.delay_seconds;
  if (options.ttl_seconds) message["ttl_seconds"] = *options.ttl_seconds;
  return message;
}

json messages_json(const std::vector<std::string>& bodies, const MessageOptions& options) {
  json messages = json::array();
  for (const auto& body : bodies) messages.push_back(message_json(body, options));
  return messages;
}

}  // namespace ballast::tools

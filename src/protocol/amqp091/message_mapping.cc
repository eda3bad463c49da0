#include "protocol/amqp091/message_mapping.h"

#include <charconv>

#include "fmt/format.h"

namespace ballast::amqp {
namespace {

constexpr uint8_t kMaxBrokerPriority = 9;
constexpr uint8_t kPersistent = 2;
constexpr size_t kMaxBrokerIdBytes = 255;

bool is_death_header(std::string_view name) {
  return name.starts_with("x-death-");
}

std::string field_text(const FieldValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
          return std::to_string(static_cast<int>(v));
        } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
          return fmt::to_string(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          return v.bytes;
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          return std::to_string(v.seconds);
        } else if constexpr (std::is_same_v<T, Decimal>) {
          return fmt::format("{}e-{}", v.value, v.scale);
        } else {
          return {};  // tables, arrays and void match nothing but "present"
        }
      },
      value.value);
}

int64_t header_number(const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key != name) continue;
    int64_t number = 0;
    std::from_chars(value.data(), value.data() + value.size(), number);
    return number;
  }
  return 0;
}

std::string header_text(const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

// RabbitMQ's x-death: an array holding one table per (queue, reason), newest first.
void add_x_death(FieldEntries& headers, const broker::DeliveredMessage& message) {
  const auto& native = message.properties.headers;
  const std::string reason = header_text(native, "x-death-reason");
  if (reason.empty()) return;
  const std::string queue = header_text(native, "x-death-queue");
  FieldEntries death;
  death.emplace_back("count", FieldValue{header_number(native, "x-death-count")});
  death.emplace_back("reason", FieldValue{reason});
  death.emplace_back("queue", FieldValue{queue});
  death.emplace_back(
      "time", FieldValue{Timestamp{static_cast<uint64_t>(header_number(native, "x-death-time") / 1000)}});
  death.emplace_back("exchange", FieldValue{header_text(native, "x-death-exchange")});
  FieldArray keys;
  keys.push_back(FieldValue{header_text(native, "x-death-routing-key")});
  death.emplace_back("routing-keys", FieldValue{std::move(keys)});
  std::erase_if(headers, [](const auto& entry) {
    return entry.name == "x-death" || entry.name.starts_with("x-first-death-");
  });
  FieldArray deaths;
  deaths.push_back(FieldValue{std::move(death)});
  headers.emplace_back("x-death", FieldValue{std::move(deaths)});
  headers.emplace_back("x-first-death-reason", FieldValue{reason});
  headers.emplace_back("x-first-death-queue", FieldValue{queue});
  headers.emplace_back("x-first-death-exchange", FieldValue{header_text(native, "x-death-exchange")});
}

BasicProperties synthesized(const broker::DeliveredMessage& message) {
  const broker::MessageProperties& native = message.properties;
  BasicProperties properties;
  if (!native.content_type.empty()) properties.content_type = native.content_type;
  if (!native.correlation_id.empty()) properties.correlation_id = native.correlation_id;
  if (!native.reply_to.empty()) properties.reply_to = native.reply_to;
  properties.message_id = message.id;
  properties.timestamp = static_cast<uint64_t>(message.published_at_ms / 1000);
  properties.delivery_mode = kPersistent;
  if (message.priority != 0) properties.priority = message.priority;
  FieldEntries headers;
  for (const auto& [name, value] : native.headers) {
    if (!is_death_header(name)) headers.emplace_back(name, FieldValue{value});
  }
  add_x_death(headers, message);
  if (!headers.empty()) properties.headers = encode_table(headers);
  return properties;
}

}  // namespace

Result<broker::PublishRequest> publish_request(std::string raw_properties, std::string body,
                                               const std::string& user) {
  BasicProperties properties;
  WireReader reader(raw_properties);
  if (!decode(reader, properties) || reader.remaining() != 0) {
    return Error(ErrorCode::kInvalidArgument, "the content header's property list does not parse",
                 "send a well-formed content header (a client library bug)");
  }
  broker::PublishRequest request;
  if (properties.expiration) {
    uint64_t ttl_ms = 0;
    const std::string& text = *properties.expiration;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ttl_ms);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("invalid expiration \"{}\": it must be a whole number of milliseconds", text),
                   "set expiration to a decimal string such as \"60000\"");
    }
    request.ttl_ms = ttl_ms;
  }
  if (properties.user_id && *properties.user_id != user) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("user_id property \"{}\" is not the connection's user \"{}\"", *properties.user_id, user),
        "leave user_id unset or set it to the user the connection logged in as");
  }
  if (properties.message_id && !properties.message_id->empty() &&
      properties.message_id->size() <= kMaxBrokerIdBytes) {
    request.id = *properties.message_id;
  }
  request.priority = std::min<uint8_t>(properties.priority.value_or(0), kMaxBrokerPriority);
  request.properties.content_type = properties.content_type.value_or("");
  request.properties.correlation_id = properties.correlation_id.value_or("");
  request.properties.reply_to = properties.reply_to.value_or("");
  request.properties.encoding = broker::BodyEncoding::kBase64;
  request.properties.amqp_properties = std::move(raw_properties);
  request.body = std::move(body);
  return request;
}

std::string delivery_properties(const broker::DeliveredMessage& message) {
  const std::string& raw = message.properties.amqp_properties;
  std::string out;
  WireWriter writer(out);
  if (raw.empty()) {
    encode(synthesized(message), writer);
    return out;
  }
  // Headers the broker added (dead-lettering, a filter's bypass tag or rewrite) join the
  // client's own; without any, the properties go back byte-identical.
  if (message.properties.headers.empty()) return raw;
  BasicProperties properties;
  WireReader reader(raw);
  if (!decode(reader, properties)) return raw;  // checked at publish; kept as it came
  FieldEntries headers;
  if (properties.headers && !parse_table(properties.headers->raw, headers)) return raw;
  for (const auto& [name, value] : message.properties.headers) {
    if (is_death_header(name)) continue;
    std::erase_if(headers, [&](const FieldEntry& entry) { return entry.name == name; });
    headers.push_back(FieldEntry{name, FieldValue{value}});
  }
  add_x_death(headers, message);
  properties.headers = encode_table(headers);
  encode(properties, writer);
  return out;
}

std::vector<std::pair<std::string, std::string>> match_headers(std::string_view raw_properties) {
  std::vector<std::pair<std::string, std::string>> out;
  constexpr uint8_t kHeadersFlagInFirstByte = 0x20;  // property 3 of 14: bit 13 of the flag word
  if (raw_properties.empty() || (static_cast<uint8_t>(raw_properties[0]) & kHeadersFlagInFirstByte) == 0)
    return out;
  BasicProperties properties;
  WireReader reader(raw_properties);
  FieldEntries headers;
  if (!decode(reader, properties) || !properties.headers || !parse_table(properties.headers->raw, headers)) {
    return out;
  }
  for (const auto& [name, value] : headers) out.emplace_back(name, field_text(value));
  return out;
}

bool table_as_text(const FieldTable& table, std::vector<std::pair<std::string, std::string>>& out) {
  FieldEntries entries;
  if (!parse_table(table.raw, entries)) return false;
  for (const auto& [name, value] : entries) out.emplace_back(name, field_text(value));
  return true;
}

}  // namespace ballast::amqp

#include "protocol/amqp091/queue_arguments.h"

#include "fmt/format.h"

namespace ballast::amqp {
namespace {

constexpr int64_t kMaxAmqpPriority = 255;
constexpr int64_t kMaxTtlMs = UINT32_MAX;
constexpr uint64_t kZeroTtlMs = 1000;

Error bad_argument(std::string_view queue, std::string_view name, std::string_view why,
                   std::string_view fix) {
  return Error(ErrorCode::kInvalidArgument, fmt::format("queue \"{}\": argument {} {}", queue, name, why),
               std::string(fix));
}

Result<int64_t> positive_integer(const FieldValue& value, std::string_view queue, std::string_view name,
                                 int64_t minimum) {
  int64_t number = 0;
  if (!field_as_integer(value, number)) {
    return bad_argument(queue, name, "must be an integer", fmt::format("send {} as a number", name));
  }
  if (number < minimum) {
    return bad_argument(queue, name, fmt::format("= {} is below {}", number, minimum),
                        fmt::format("set {} to {} or more", name, minimum));
  }
  return number;
}

Result<std::string> text(const FieldValue& value, std::string_view queue, std::string_view name) {
  const std::string* string = field_as_string(value);
  if (string == nullptr) {
    return bad_argument(queue, name, "must be a string", fmt::format("send {} as a string", name));
  }
  return *string;
}

Status apply(broker::QueueSettings& settings, const std::string& name, const FieldValue& value,
             const std::string& queue) {
  if (name == "x-message-ttl") {
    auto ms = positive_integer(value, queue, name, 0);
    if (!ms) return std::move(ms).error();
    if (*ms > kMaxTtlMs) {
      return bad_argument(
          queue, name, fmt::format("= {} ms is over {} ms (about 49 days), as in RabbitMQ", *ms, kMaxTtlMs),
          "use a shorter TTL, or none");
    }
    // Exact to the millisecond. 0 (RabbitMQ: expire unless a consumer takes it at once) has no
    // exact meaning where a message becomes visible only after its commit: it is kept for
    // kZeroTtlMs, so a waiting consumer still gets it (docs/amqp.md).
    settings.message_ttl_ms = *ms == 0 ? kZeroTtlMs : static_cast<uint64_t>(*ms);
  } else if (name == "x-max-length") {
    auto length = positive_integer(value, queue, name, 0);
    if (!length) return std::move(length).error();
    if (*length == 0) {
      return bad_argument(queue, name, "= 0 would refuse every message", "set x-max-length to 1 or more");
    }
    settings.max_length = static_cast<uint64_t>(*length);
  } else if (name == "x-max-length-bytes") {
    auto bytes = positive_integer(value, queue, name, 1);
    if (!bytes) return std::move(bytes).error();
    settings.max_bytes = static_cast<uint64_t>(*bytes);
  } else if (name == "x-overflow") {
    auto overflow = text(value, queue, name);
    if (!overflow) return std::move(overflow).error();
    if (*overflow == "reject-publish-dlx") {
      return Error(ErrorCode::kNotImplemented,
                   fmt::format("queue \"{}\": x-overflow = reject-publish-dlx is not supported", queue),
                   "use reject-publish (the publisher is told) or drop-head (the head is dead-lettered)");
    }
    auto parsed = broker::parse_overflow(*overflow);
    if (!parsed) {
      return bad_argument(queue, name, fmt::format("= \"{}\" is not reject-publish or drop-head", *overflow),
                          "use reject-publish or drop-head");
    }
    settings.overflow = *parsed;
  } else if (name == "x-dead-letter-exchange") {
    auto exchange = text(value, queue, name);
    if (!exchange) return std::move(exchange).error();
    settings.dead_letter_exchange = *exchange;
  } else if (name == "x-dead-letter-routing-key") {
    auto key = text(value, queue, name);
    if (!key) return std::move(key).error();
    settings.dead_letter_queue = *key;
  } else if (name == "x-max-priority") {
    auto priority = positive_integer(value, queue, name, 0);
    if (!priority) return std::move(priority).error();
    if (*priority > kMaxAmqpPriority) {
      return bad_argument(queue, name, fmt::format("= {} is over 255", *priority),
                          "use 1 to 10 (Ballast keeps 0-9)");
    }
    settings.max_priority = static_cast<uint8_t>(std::min<int64_t>(*priority, 9));
  } else if (name == "x-delivery-limit") {
    auto limit = positive_integer(value, queue, name, 1);
    if (!limit) return std::move(limit).error();
    settings.delivery_limit = static_cast<uint32_t>(std::min<int64_t>(*limit, UINT32_MAX));
  } else if (name == "x-queue-type") {
    auto type = text(value, queue, name);
    if (!type) return std::move(type).error();
    if (*type != "classic" && *type != "quorum") {
      return Error(ErrorCode::kNotImplemented,
                   fmt::format("queue \"{}\": x-queue-type = \"{}\" is not supported", queue, *type),
                   "use classic or quorum (both are Ballast's durable queue)");
    }
  } else if (name == "x-expires") {
    auto ms = positive_integer(value, queue, name, 1);
    if (!ms) return std::move(ms).error();
    if (*ms > kMaxTtlMs) {
      return bad_argument(queue, name, fmt::format("= {} ms is over {} ms, as in RabbitMQ", *ms, kMaxTtlMs),
                          "use a shorter expiry");
    }
    settings.expires_ms = static_cast<uint64_t>(*ms);
  }
  return ok_status();
}

}  // namespace

Result<broker::QueueSettings> queue_settings_from_arguments(const FieldTable& arguments,
                                                            const std::string& queue) {
  FieldEntries entries;
  if (!parse_table(arguments.raw, entries)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("queue \"{}\": the arguments table does not parse", queue),
                 "send a well-formed field table (a client library bug)");
  }
  broker::QueueSettings settings;
  settings.max_priority = 0;  // AMQP: without x-max-priority every message has the same priority
  for (const auto& [name, value] : entries) {
    auto applied = apply(settings, name, value, queue);
    if (!applied) return std::move(applied).error();
  }
  auto valid = broker::validate_settings(settings);
  if (!valid) return std::move(valid).error();
  return settings;
}

}  // namespace ballast::amqp

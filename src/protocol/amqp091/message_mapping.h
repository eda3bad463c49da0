#pragma once
// Between AMQP's basic properties and the broker's messages. A message published over AMQP
// keeps its property flags and list byte-identical (MessageProperties::amqp_properties); the
// broker-visible fields (content type, correlation id, reply-to, id, priority, expiry) are
// copied out of them. A message published over HTTP gets properties made from its fields.
// Dead-letter facts the broker records as x-death-* headers become RabbitMQ's x-death table.
// Thread-safe: pure functions.

#include <string>
#include <utility>
#include <vector>

#include "broker/message.h"
#include "protocol/amqp091/methods.h"
#include "util/result.h"

namespace ballast::amqp {

// The broker's request for a message published with these properties. Fails with
// INVALID_ARGUMENT for a malformed expiration or a user-id that is not the connection's user.
Result<broker::PublishRequest> publish_request(std::string raw_properties, std::string body,
                                               const std::string& user);

// The property flags and list to deliver `message` with.
std::string delivery_properties(const broker::DeliveredMessage& message);

// Headers as text, for headers-exchange matching.
std::vector<std::pair<std::string, std::string>> match_headers(std::string_view raw_properties);

// Field-table arguments as text (for headers-exchange bindings); false if they do not parse.
bool table_as_text(const FieldTable& table, std::vector<std::pair<std::string, std::string>>& out);

}  // namespace ballast::amqp

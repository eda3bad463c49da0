#pragma once
// The CLI's default, human-readable rendering of API answers: tables for queues and
// statistics, one line per message body. Tolerates missing or unexpected fields (shown as "-"),
// so a newer server's answers still print.
// Thread-safe: pure functions.

#include <string>

#include <nlohmann/json.hpp>

namespace ballast::tools {

// One table cell: "-" for null or absent, strings as they are, fractional numbers with one
// decimal, other values as compact JSON.
std::string cell_text(const nlohmann::json& value);

// The value at `key` of `object`, or null when `object` is not an object or has no such key.
const nlohmann::json& field(const nlohmann::json& object, const char* key);

// The array at `key` of `object`, or an empty array when there is none.
const nlohmann::json& array_field(const nlohmann::json& object, const char* key);

// GET /queues answered {"queues": [...]}: one row per queue with its counts and rates.
std::string render_queue_list(const nlohmann::json& answer);

// Any object as a KEY / VALUE table, nested objects flattened as "settings.max_length".
std::string render_key_values(const nlohmann::json& object);

// A received or peeked message's body as bytes (base64 decoded when so encoded), no newline.
std::string message_body_text(const nlohmann::json& message);

}  // namespace ballast::tools

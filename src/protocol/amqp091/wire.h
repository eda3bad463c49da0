#pragma once
// AMQP 0-9-1 wire primitives (big-endian): octet, short, long, longlong, shortstr, longstr,
// timestamp and field tables, for the generated method codec (methods.h) and the frame layer.
// WireReader never reads past its input: a short or malformed input is a failed read.
// Field tables are kept as their raw bytes (FieldTable) so that what a client sends is passed on
// byte-identical; parse_table() decodes one when the broker needs its values.
// Not thread-safe: plain values.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ballast::amqp {

// A field table as it travels: the bytes after the 4-byte length.
struct FieldTable {
  std::string raw;
  bool operator==(const FieldTable&) const = default;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}

  bool octet(uint8_t& value);
  bool short_(uint16_t& value);
  bool long_(uint32_t& value);
  bool longlong(uint64_t& value);
  bool timestamp(uint64_t& value) { return longlong(value); }
  bool shortstr(std::string& value);
  bool longstr(std::string& value);
  bool table(FieldTable& value);
  bool bytes(size_t count, std::string_view& value);
  size_t remaining() const { return in_.size() - position_; }

 private:
  bool unsigned_be(int bytes, uint64_t& value);
  std::string_view in_;
  size_t position_ = 0;
};

class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}

  void octet(uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void short_(uint16_t value) { put(value, 2); }
  void long_(uint32_t value) { put(value, 4); }
  void longlong(uint64_t value) { put(value, 8); }
  void timestamp(uint64_t value) { put(value, 8); }
  // A shortstr longer than 255 bytes is a bug in the caller (names are validated first).
  void shortstr(std::string_view value);
  void longstr(std::string_view value);
  void table(const FieldTable& value) { longstr(value.raw); }
  void raw(std::string_view value) { out_.append(value); }
  std::string& buffer() { return out_; }

 private:
  void put(uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
  }
  std::string& out_;
};

// A field value can hold arrays and tables of field values. The recursion goes through
// std::vector of types that are only declared here and complete below (FieldValue, FieldEntry):
// a std::pair<std::string, FieldValue> inside FieldValue's own variant made libstdc++ 12's
// completeness checks fail under clang 16 (the fuzz build).
struct FieldValue;
struct FieldEntry;
using FieldArray = std::vector<FieldValue>;
using FieldEntries = std::vector<FieldEntry>;
struct Decimal {
  uint8_t scale = 0;
  uint32_t value = 0;
  bool operator==(const Decimal&) const = default;
};
struct Void {
  bool operator==(const Void&) const = default;
};
struct Timestamp {
  uint64_t seconds = 0;
  bool operator==(const Timestamp&) const = default;
};
struct ByteArray {
  std::string bytes;
  bool operator==(const ByteArray&) const = default;
};

// One value of a field table, with the type letters RabbitMQ and real clients use (the errata's
// table, not the PDF's): t b B s u I i l f d D S A T F V x.
struct FieldValue {
  std::variant<bool, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, float, double, Decimal,
               std::string, FieldArray, Timestamp, FieldEntries, Void, ByteArray>
      value;
  bool operator==(const FieldValue&) const = default;
};

// One named value of a field table (a struct, not std::pair: see FieldEntries).
struct FieldEntry {
  std::string name;
  FieldValue value;
  bool operator==(const FieldEntry&) const = default;
};

// Parses a table's raw bytes; false when they are malformed (unknown type letter, bad length,
// nesting deeper than 64).
bool parse_table(std::string_view raw, FieldEntries& out);
FieldTable encode_table(const FieldEntries& entries);

// The value of `key` in `entries`, or null.
const FieldValue* find_field(const FieldEntries& entries, std::string_view key);
// An integer field of any width, as int64; false when absent or not an integer.
bool field_as_integer(const FieldValue& value, int64_t& out);
// A string field (S); null when it is another type.
const std::string* field_as_string(const FieldValue& value);

}  // namespace ballast::amqp

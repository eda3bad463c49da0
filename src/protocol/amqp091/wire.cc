#include "protocol/amqp091/wire.h"

#include <bit>
#include <cstring>

#include "util/check.h"

namespace ballast::amqp {
namespace {

constexpr int kMaxTableDepth = 64;

bool parse_value(WireReader& in, FieldValue& out, int depth);

bool parse_entries(std::string_view raw, FieldEntries& out, int depth) {
  if (depth > kMaxTableDepth) return false;
  WireReader in(raw);
  while (in.remaining() > 0) {
    std::string key;
    FieldValue value;
    if (!in.shortstr(key) || !parse_value(in, value, depth)) return false;
    out.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

bool parse_array(std::string_view raw, FieldArray& out, int depth) {
  if (depth > kMaxTableDepth) return false;
  WireReader in(raw);
  while (in.remaining() > 0) {
    FieldValue value;
    if (!parse_value(in, value, depth)) return false;
    out.push_back(std::move(value));
  }
  return true;
}

template <typename Signed, typename Unsigned, typename Read>
bool signed_value(FieldValue& out, Read read) {
  Unsigned raw{};
  if (!read(raw)) return false;
  out.value = static_cast<Signed>(raw);
  return true;
}

bool parse_value(WireReader& in, FieldValue& out, int depth) {
  uint8_t type = 0;
  if (!in.octet(type)) return false;
  switch (type) {
    case 't': {
      uint8_t v = 0;
      if (!in.octet(v)) return false;
      out.value = v != 0;
      return true;
    }
    case 'b':
      return signed_value<int8_t, uint8_t>(out, [&](uint8_t& v) { return in.octet(v); });
    case 'B': {
      uint8_t v = 0;
      if (!in.octet(v)) return false;
      out.value = v;
      return true;
    }
    case 's':
      return signed_value<int16_t, uint16_t>(out, [&](uint16_t& v) { return in.short_(v); });
    case 'u': {
      uint16_t v = 0;
      if (!in.short_(v)) return false;
      out.value = v;
      return true;
    }
    case 'I':
      return signed_value<int32_t, uint32_t>(out, [&](uint32_t& v) { return in.long_(v); });
    case 'i': {
      uint32_t v = 0;
      if (!in.long_(v)) return false;
      out.value = v;
      return true;
    }
    case 'l':
      return signed_value<int64_t, uint64_t>(out, [&](uint64_t& v) { return in.longlong(v); });
    case 'f': {
      uint32_t bits = 0;
      if (!in.long_(bits)) return false;
      out.value = std::bit_cast<float>(bits);
      return true;
    }
    case 'd': {
      uint64_t bits = 0;
      if (!in.longlong(bits)) return false;
      out.value = std::bit_cast<double>(bits);
      return true;
    }
    case 'D': {
      Decimal decimal;
      if (!in.octet(decimal.scale) || !in.long_(decimal.value)) return false;
      out.value = decimal;
      return true;
    }
    case 'S': {
      std::string text;
      if (!in.longstr(text)) return false;
      out.value = std::move(text);
      return true;
    }
    case 'x': {
      ByteArray bytes;
      if (!in.longstr(bytes.bytes)) return false;
      out.value = std::move(bytes);
      return true;
    }
    case 'A': {
      std::string raw;
      FieldArray array;
      if (!in.longstr(raw) || !parse_array(raw, array, depth + 1)) return false;
      out.value = std::move(array);
      return true;
    }
    case 'T': {
      Timestamp stamp;
      if (!in.longlong(stamp.seconds)) return false;
      out.value = stamp;
      return true;
    }
    case 'F': {
      std::string raw;
      FieldEntries entries;
      if (!in.longstr(raw) || !parse_entries(raw, entries, depth + 1)) return false;
      out.value = std::move(entries);
      return true;
    }
    case 'V':
      out.value = Void{};
      return true;
    default:
      return false;
  }
}

void encode_value(const FieldValue& value, WireWriter& out);

std::string encode_entries(const FieldEntries& entries) {
  std::string raw;
  WireWriter out(raw);
  for (const auto& [key, value] : entries) {
    out.shortstr(key);
    encode_value(value, out);
  }
  return raw;
}

struct ValueEncoder {
  WireWriter& out;
  void operator()(bool v) { out.octet('t'), out.octet(v ? 1 : 0); }
  void operator()(int8_t v) { out.octet('b'), out.octet(static_cast<uint8_t>(v)); }
  void operator()(uint8_t v) { out.octet('B'), out.octet(v); }
  void operator()(int16_t v) { out.octet('s'), out.short_(static_cast<uint16_t>(v)); }
  void operator()(uint16_t v) { out.octet('u'), out.short_(v); }
  void operator()(int32_t v) { out.octet('I'), out.long_(static_cast<uint32_t>(v)); }
  void operator()(uint32_t v) { out.octet('i'), out.long_(v); }
  void operator()(int64_t v) { out.octet('l'), out.longlong(static_cast<uint64_t>(v)); }
  void operator()(float v) { out.octet('f'), out.long_(std::bit_cast<uint32_t>(v)); }
  void operator()(double v) { out.octet('d'), out.longlong(std::bit_cast<uint64_t>(v)); }
  void operator()(const Decimal& v) { out.octet('D'), out.octet(v.scale), out.long_(v.value); }
  void operator()(const std::string& v) { out.octet('S'), out.longstr(v); }
  void operator()(const ByteArray& v) { out.octet('x'), out.longstr(v.bytes); }
  void operator()(const Timestamp& v) { out.octet('T'), out.longlong(v.seconds); }
  void operator()(const Void&) { out.octet('V'); }
  void operator()(const FieldEntries& v) { out.octet('F'), out.longstr(encode_entries(v)); }
  void operator()(const FieldArray& v) {
    std::string raw;
    WireWriter items(raw);
    for (const FieldValue& item : v) encode_value(item, items);
    out.octet('A');
    out.longstr(raw);
  }
};

void encode_value(const FieldValue& value, WireWriter& out) {
  std::visit(ValueEncoder{out}, value.value);
}

}  // namespace

bool WireReader::unsigned_be(int bytes, uint64_t& value) {
  if (remaining() < static_cast<size_t>(bytes)) return false;
  uint64_t result = 0;
  for (int i = 0; i < bytes; ++i) result = (result << 8) | static_cast<uint8_t>(in_[position_ + i]);
  position_ += bytes;
  value = result;
  return true;
}

bool WireReader::octet(uint8_t& value) {
  uint64_t v = 0;
  if (!unsigned_be(1, v)) return false;
  value = static_cast<uint8_t>(v);
  return true;
}

bool WireReader::short_(uint16_t& value) {
  uint64_t v = 0;
  if (!unsigned_be(2, v)) return false;
  value = static_cast<uint16_t>(v);
  return true;
}

bool WireReader::long_(uint32_t& value) {
  uint64_t v = 0;
  if (!unsigned_be(4, v)) return false;
  value = static_cast<uint32_t>(v);
  return true;
}

bool WireReader::longlong(uint64_t& value) {
  return unsigned_be(8, value);
}

bool WireReader::bytes(size_t count, std::string_view& value) {
  if (remaining() < count) return false;
  value = in_.substr(position_, count);
  position_ += count;
  return true;
}

bool WireReader::shortstr(std::string& value) {
  uint8_t length = 0;
  std::string_view text;
  if (!octet(length) || !bytes(length, text)) return false;
  value.assign(text);
  return true;
}

bool WireReader::longstr(std::string& value) {
  uint32_t length = 0;
  std::string_view text;
  if (!long_(length) || !bytes(length, text)) return false;
  value.assign(text);
  return true;
}

bool WireReader::table(FieldTable& value) {
  return longstr(value.raw);
}

void WireWriter::shortstr(std::string_view value) {
  BALLAST_CHECK(value.size() <= 255, "shortstr of {} bytes", value.size());
  octet(static_cast<uint8_t>(value.size()));
  out_.append(value);
}

void WireWriter::longstr(std::string_view value) {
  long_(static_cast<uint32_t>(value.size()));
  out_.append(value);
}

bool parse_table(std::string_view raw, FieldEntries& out) {
  return parse_entries(raw, out, 0);
}

FieldTable encode_table(const FieldEntries& entries) {
  return FieldTable{encode_entries(entries)};
}

const FieldValue* find_field(const FieldEntries& entries, std::string_view key) {
  for (const auto& [name, value] : entries) {
    if (name == key) return &value;
  }
  return nullptr;
}

bool field_as_integer(const FieldValue& value, int64_t& out) {
  return std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          out = static_cast<int64_t>(v);
          return true;
        } else {
          return false;
        }
      },
      value.value);
}

const std::string* field_as_string(const FieldValue& value) {
  return std::get_if<std::string>(&value.value);
}

}  // namespace ballast::amqp

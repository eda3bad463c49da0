#include "protocol/amqp091/wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ballast::amqp {
namespace {

template <typename T>
FieldValue make(T value) {
  FieldValue field;
  field.value.template emplace<T>(std::move(value));
  return field;
}

// Big-endian byte builders for tables written by hand.
std::string be(uint64_t value, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  return out;
}
std::string key(std::string_view name) {
  return std::string(1, static_cast<char>(name.size())) + std::string(name);
}
std::string longstr(std::string_view bytes) {
  return be(bytes.size(), 4) + std::string(bytes);
}

// One entry per type letter of the AMQP 0-9-1 errata (as RabbitMQ and the clients use them),
// written byte by byte, with the value each must parse to.
struct HandEntry {
  std::string name;
  std::string bytes;  // the type letter and the value
  FieldValue expected;
};

std::vector<HandEntry> hand_entries() {
  FieldEntries nested;
  nested.emplace_back("k", make(Void{}));
  FieldArray array;
  array.push_back(make(int32_t{7}));
  array.push_back(make(std::string("x")));
  return {
      {"t", "t" + be(1, 1), make(true)},
      {"b", "b" + be(0xFE, 1), make(int8_t{-2})},
      {"B", "B" + be(0xFF, 1), make(uint8_t{255})},
      {"s", "s" + be(0xFFFE, 2), make(int16_t{-2})},
      {"u", "u" + be(0xFFFF, 2), make(uint16_t{65535})},
      {"I", "I" + be(0xFFFFFFFD, 4), make(int32_t{-3})},
      {"i", "i" + be(0x80000000, 4), make(uint32_t{0x80000000})},
      {"l", "l" + be(0xFFFFFFFFFFFFFFFF, 8), make(int64_t{-1})},
      {"f", "f" + be(0x3FC00000, 4), make(1.5f)},
      {"d", "d" + be(0x400921FB54442D18, 8), make(3.141592653589793)},
      {"D", "D" + be(2, 1) + be(314, 4), make(Decimal{2, 314})},
      {"S", "S" + longstr("hello"), make(std::string("hello"))},
      {"A", "A" + longstr("I" + be(7, 4) + "S" + longstr("x")), make(std::move(array))},
      {"T", "T" + be(0x65000000, 8), make(Timestamp{0x65000000})},
      {"F", "F" + longstr(key("k") + "V"), make(std::move(nested))},
      {"V", "V", make(Void{})},
      {"x", "x" + longstr(std::string("\x00\x01\x02", 3)), make(ByteArray{std::string("\x00\x01\x02", 3)})},
  };
}

std::string hand_table() {
  std::string raw;
  for (const HandEntry& entry : hand_entries()) raw += key(entry.name) + entry.bytes;
  return raw;
}

// Sizes of the raw table after each whole entry: the cut points where a prefix is a valid table.
std::vector<size_t> entry_boundaries() {
  std::vector<size_t> boundaries{0};
  size_t size = 0;
  for (const HandEntry& entry : hand_entries()) {
    size += key(entry.name).size() + entry.bytes.size();
    boundaries.push_back(size);
  }
  return boundaries;
}

// `depth` tables, each the only value of the one before ("F" inside "F"...).
std::string nested_tables(int depth) {
  std::string inner;  // the innermost table's raw bytes: empty
  for (int i = 0; i < depth; ++i) inner = key("n") + "F" + longstr(inner);
  return inner;
}

// A table whose one value is `depth` arrays nested inside each other.
std::string nested_arrays(int depth) {
  // Built outside-in: each array's payload is just the next array.
  std::string raw = key("a");
  for (int level = 0; level < depth; ++level) {
    const size_t inner_bytes = 5 * static_cast<size_t>(depth - level - 1);
    raw += "A" + be(inner_bytes, 4);
  }
  return raw;
}

TEST(WireReader, ReadsWhatWireWriterWrote) {
  std::string out;
  WireWriter writer(out);
  writer.octet(0xAB);
  writer.short_(0xBEEF);
  writer.long_(0xDEADBEEF);
  writer.longlong(0x0123456789ABCDEF);
  writer.timestamp(1700000000);
  writer.shortstr("queue.name");
  writer.longstr(std::string("long\0string", 11));
  writer.table(FieldTable{"raw-table-bytes"});
  writer.raw("tail");

  WireReader reader(out);
  uint8_t octet = 0;
  uint16_t short_value = 0;
  uint32_t long_value = 0;
  uint64_t longlong = 0, timestamp = 0;
  std::string shortstr, longstr_value;
  FieldTable table;
  std::string_view tail;
  ASSERT_TRUE(reader.octet(octet));
  ASSERT_TRUE(reader.short_(short_value));
  ASSERT_TRUE(reader.long_(long_value));
  ASSERT_TRUE(reader.longlong(longlong));
  ASSERT_TRUE(reader.timestamp(timestamp));
  ASSERT_TRUE(reader.shortstr(shortstr));
  ASSERT_TRUE(reader.longstr(longstr_value));
  ASSERT_TRUE(reader.table(table));
  ASSERT_TRUE(reader.bytes(4, tail));
  EXPECT_EQ(octet, 0xAB);
  EXPECT_EQ(short_value, 0xBEEF);
  EXPECT_EQ(long_value, 0xDEADBEEFu);
  EXPECT_EQ(longlong, 0x0123456789ABCDEFu);
  EXPECT_EQ(timestamp, 1700000000u);
  EXPECT_EQ(shortstr, "queue.name");
  EXPECT_EQ(longstr_value, std::string("long\0string", 11));
  EXPECT_EQ(table.raw, "raw-table-bytes");
  EXPECT_EQ(tail, "tail");
  EXPECT_EQ(reader.remaining(), 0u);
}

TEST(WireWriter, WritesBigEndian) {
  std::string out;
  WireWriter writer(out);
  writer.short_(0x0102);
  writer.long_(0x03040506);
  writer.longlong(0x0708090A0B0C0D0E);
  writer.shortstr("ab");
  writer.longstr("c");
  EXPECT_EQ(out, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x02"
                             "ab\x00\x00\x00\x01"
                             "c",
                             22));
}

TEST(WireWriter, WritesAShortstrOf255Bytes) {
  std::string out;
  WireWriter writer(out);
  writer.shortstr(std::string(255, 'q'));
  WireReader reader(out);
  std::string back;
  ASSERT_TRUE(reader.shortstr(back));
  EXPECT_EQ(back, std::string(255, 'q'));
}

TEST(WireReader, FailsEveryReadPastTheEnd) {
  const std::string seven(7, '\x01');
  for (size_t size = 0; size < 8; ++size) {
    WireReader reader(std::string_view(seven).substr(0, std::min(size, seven.size())));
    uint64_t value = 0;
    EXPECT_FALSE(reader.longlong(value)) << "size " << size;
  }
  WireReader empty("");
  uint8_t octet = 0;
  uint16_t short_value = 0;
  uint32_t long_value = 0;
  EXPECT_FALSE(empty.octet(octet));
  EXPECT_FALSE(empty.short_(short_value));
  EXPECT_FALSE(empty.long_(long_value));
  std::string_view bytes;
  EXPECT_FALSE(empty.bytes(1, bytes));
  EXPECT_TRUE(empty.bytes(0, bytes));
}

TEST(WireReader, FailsAStringLongerThanItsInput) {
  std::string shortstr_value;
  EXPECT_FALSE(WireReader(std::string("\x05"
                                      "abcd",
                                      5))
                   .shortstr(shortstr_value));
  std::string longstr_value;
  EXPECT_FALSE(WireReader(std::string("\x00\x00\x00\x05"
                                      "abcd",
                                      8))
                   .longstr(longstr_value));
  // A length near 4 GiB must not wrap the bounds check.
  EXPECT_FALSE(WireReader(std::string("\xFF\xFF\xFF\xFF"
                                      "abcd",
                                      8))
                   .longstr(longstr_value));
  FieldTable table;
  EXPECT_FALSE(WireReader(std::string("\x00\x00\x01\x00", 4)).table(table));
}

TEST(FieldTable, ParsesEveryErrataTypeLetterWrittenByHand) {
  FieldEntries entries;
  ASSERT_TRUE(parse_table(hand_table(), entries));
  const std::vector<HandEntry> expected = hand_entries();
  ASSERT_EQ(entries.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(entries[i].name, expected[i].name);
    EXPECT_TRUE(entries[i].value == expected[i].expected) << "type letter " << expected[i].name;
  }
}

TEST(FieldTable, EncodesAParsedHandWrittenTableByteIdentical) {
  const std::string raw = hand_table();
  FieldEntries entries;
  ASSERT_TRUE(parse_table(raw, entries));
  EXPECT_EQ(encode_table(entries).raw, raw);
}

TEST(FieldTable, EncodesEachTypeLetterAsTheErrataSays) {
  for (const HandEntry& entry : hand_entries()) {
    FieldEntries one;
    one.emplace_back(entry.name, entry.expected);
    EXPECT_EQ(encode_table(one).raw, key(entry.name) + entry.bytes) << "type letter " << entry.name;
  }
}

TEST(FieldTable, RoundTripsNestedTablesAndArrays) {
  FieldEntries inner;
  inner.emplace_back("count", make(int64_t{3}));
  inner.emplace_back("when", make(Timestamp{1700000000}));
  FieldArray innermost{make(std::string("deep")), make(Void{}), make(ByteArray{std::string("\xFF\x00", 2)})};
  FieldArray array{make(std::move(inner)), make(std::move(innermost)), make(FieldArray{}),
                   make(FieldEntries{})};
  FieldEntries outer;
  outer.emplace_back("x-death", make(array));
  outer.emplace_back("min", make(std::numeric_limits<int64_t>::min()));
  outer.emplace_back("", make(false));
  outer.emplace_back(std::string(255, 'k'), make(-0.0));

  const FieldTable encoded = encode_table(outer);
  FieldEntries parsed;
  ASSERT_TRUE(parse_table(encoded.raw, parsed));
  EXPECT_TRUE(parsed == outer);
  EXPECT_EQ(encode_table(parsed).raw, encoded.raw);
}

TEST(FieldTable, ParsesAnEmptyTable) {
  FieldEntries entries;
  EXPECT_TRUE(parse_table("", entries));
  EXPECT_TRUE(entries.empty());
  EXPECT_EQ(encode_table({}).raw, "");
}

TEST(FieldTable, KeepsDuplicateKeysInOrder) {
  const std::string raw = key("a") + "b" + be(1, 1) + key("a") + "b" + be(2, 1);
  FieldEntries entries;
  ASSERT_TRUE(parse_table(raw, entries));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(encode_table(entries).raw, raw);
  ASSERT_NE(find_field(entries, "a"), nullptr);
  EXPECT_TRUE(*find_field(entries, "a") == make(int8_t{1}));  // the first one
}

TEST(FieldTable, RefusesAnUnknownTypeLetter) {
  // Letters of the PDF's table that the errata dropped or changed, and plain garbage.
  for (char letter : {'U', 'L', 'Z', 'c', '\0', '\xFF', '?'}) {
    FieldEntries entries;
    const std::string raw = key("k") + std::string(1, letter) + be(1, 4);
    EXPECT_FALSE(parse_table(raw, entries))
        << "type letter 0x" << std::hex << (static_cast<int>(letter) & 0xFF);
  }
}

TEST(FieldTable, RefusesAnUnknownTypeLetterInsideAnArrayOrTable) {
  FieldEntries entries;
  EXPECT_FALSE(parse_table(key("a") + "A" + longstr("Q"), entries));
  EXPECT_FALSE(parse_table(key("t") + "F" + longstr(key("k") + "Q"), entries));
}

TEST(FieldTable, RefusesAKeyWithoutAValue) {
  FieldEntries entries;
  EXPECT_FALSE(parse_table(key("lonely"), entries));
}

TEST(FieldTable, RefusesAnArrayWhoseLengthOverrunsTheTable) {
  FieldEntries entries;
  EXPECT_FALSE(parse_table(key("a") + "A" + be(100, 4) + "I" + be(1, 4), entries));
}

TEST(FieldTable, FailsCleanlyAtEveryCutOfAValidTable) {
  const std::string raw = hand_table();
  const std::vector<size_t> boundaries = entry_boundaries();
  for (size_t cut = 0; cut < raw.size(); ++cut) {
    FieldEntries entries;
    const bool parsed = parse_table(std::string_view(raw).substr(0, cut), entries);
    const auto boundary = std::find(boundaries.begin(), boundaries.end(), cut);
    if (boundary == boundaries.end()) {
      EXPECT_FALSE(parsed) << "cut at " << cut << " of " << raw.size();
    } else {
      // A cut between entries is a shorter valid table.
      EXPECT_TRUE(parsed) << "cut at entry boundary " << cut;
      EXPECT_EQ(entries.size(), static_cast<size_t>(boundary - boundaries.begin())) << "cut at " << cut;
    }
  }
}

TEST(FieldTable, ALengthPrefixedTableFailsCleanlyAtEveryCut) {
  std::string framed;
  WireWriter(framed).table(FieldTable{hand_table()});
  for (size_t cut = 0; cut < framed.size(); ++cut) {
    WireReader reader(std::string_view(framed).substr(0, cut));
    FieldTable table;
    EXPECT_FALSE(reader.table(table)) << "cut at " << cut;
  }
  WireReader whole(framed);
  FieldTable table;
  ASSERT_TRUE(whole.table(table));
  EXPECT_EQ(table.raw, hand_table());
}

TEST(FieldTable, FailsCleanlyAtEveryCutOfANestedValue) {
  // Cuts inside an A or F value shorten its own length field's promise, so each must fail.
  FieldEntries inner;
  inner.emplace_back("s", make(std::string("text")));
  inner.emplace_back("l", make(int64_t{42}));
  FieldEntries outer;
  outer.emplace_back("arr", make(FieldArray{make(inner), make(std::string("y"))}));
  const std::string raw = encode_table(outer).raw;
  for (size_t cut = 1; cut < raw.size(); ++cut) {
    FieldEntries entries;
    EXPECT_FALSE(parse_table(std::string_view(raw).substr(0, cut), entries)) << "cut at " << cut;
  }
}

TEST(FieldTable, AcceptsNestingOf64Tables) {
  FieldEntries entries;
  EXPECT_TRUE(parse_table(nested_tables(64), entries));
}

TEST(FieldTable, RefusesNestingDeeperThan64Tables) {
  FieldEntries entries;
  EXPECT_FALSE(parse_table(nested_tables(65), entries));
}

TEST(FieldTable, RefusesNestingDeeperThan64Arrays) {
  FieldEntries shallow;
  EXPECT_TRUE(parse_table(nested_arrays(64), shallow));
  FieldEntries deep;
  EXPECT_FALSE(parse_table(nested_arrays(65), deep));
}

TEST(FieldTable, RefusesVeryDeepNestingWithoutExhaustingTheStack) {
  FieldEntries entries;
  EXPECT_FALSE(parse_table(nested_arrays(100000), entries));
}

TEST(FieldTable, CountsArraysAndTablesTogetherTowardsTheDepthLimit) {
  // 33 tables, each holding an array that holds the next table: 66 levels.
  std::string inner;
  for (int i = 0; i < 33; ++i) inner = key("t") + "A" + longstr("F" + longstr(inner));
  FieldEntries entries;
  EXPECT_FALSE(parse_table(inner, entries));
  std::string allowed;
  for (int i = 0; i < 32; ++i) allowed = key("t") + "A" + longstr("F" + longstr(allowed));
  FieldEntries allowed_entries;
  EXPECT_TRUE(parse_table(allowed, allowed_entries));
}

TEST(FieldValueAccess, ReadsIntegersOfEveryWidthButNotOtherTypes) {
  int64_t number = 0;
  EXPECT_TRUE(field_as_integer(make(int8_t{-8}), number));
  EXPECT_EQ(number, -8);
  EXPECT_TRUE(field_as_integer(make(uint8_t{200}), number));
  EXPECT_EQ(number, 200);
  EXPECT_TRUE(field_as_integer(make(int16_t{-300}), number));
  EXPECT_EQ(number, -300);
  EXPECT_TRUE(field_as_integer(make(uint16_t{60000}), number));
  EXPECT_EQ(number, 60000);
  EXPECT_TRUE(field_as_integer(make(int32_t{-70000}), number));
  EXPECT_EQ(number, -70000);
  EXPECT_TRUE(field_as_integer(make(uint32_t{4000000000}), number));
  EXPECT_EQ(number, 4000000000);
  EXPECT_TRUE(field_as_integer(make(int64_t{-5000000000}), number));
  EXPECT_EQ(number, -5000000000);
  EXPECT_FALSE(field_as_integer(make(true), number));
  EXPECT_FALSE(field_as_integer(make(1.0), number));
  EXPECT_FALSE(field_as_integer(make(std::string("1")), number));
  EXPECT_FALSE(field_as_integer(make(Timestamp{1}), number));
}

TEST(FieldValueAccess, ReadsStringsOnly) {
  ASSERT_NE(field_as_string(make(std::string("s"))), nullptr);
  EXPECT_EQ(*field_as_string(make(std::string("s"))), "s");
  EXPECT_EQ(field_as_string(make(ByteArray{"s"})), nullptr);
  EXPECT_EQ(field_as_string(make(int32_t{1})), nullptr);
}

TEST(FieldValueAccess, FindsAFieldByNameOrReturnsNull) {
  FieldEntries entries;
  entries.emplace_back("a", make(int32_t{1}));
  entries.emplace_back("b", make(std::string("two")));
  ASSERT_NE(find_field(entries, "b"), nullptr);
  EXPECT_EQ(*field_as_string(*find_field(entries, "b")), "two");
  EXPECT_EQ(find_field(entries, "c"), nullptr);
  EXPECT_EQ(find_field(entries, ""), nullptr);
}

}  // namespace
}  // namespace ballast::amqp

#include "storage/record_codec.h"

#include <gtest/gtest.h>

namespace ballast::storage {
namespace {

std::string encode_one(const std::string& payload, uint32_t generation = 7, uint64_t seq = 42) {
  std::string out;
  encode_record(out, 4, kRecordIgnorable, generation, seq, std::as_bytes(std::span(payload)));
  return out;
}

TEST(RecordCodec, RoundTripsHeaderAndPayload) {
  const std::string encoded = encode_one("hello journal");
  const auto decoded = decode_record(std::as_bytes(std::span(encoded)), 7, 1 << 20);
  ASSERT_EQ(decoded.status, DecodeStatus::kOk);
  EXPECT_EQ(decoded.header.type, 4);
  EXPECT_EQ(decoded.header.flags, kRecordIgnorable);
  EXPECT_EQ(decoded.header.seq, 42u);
  EXPECT_EQ(decoded.total_bytes, encoded.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(decoded.payload.data()), decoded.payload.size()),
            "hello journal");
}

TEST(RecordCodec, EveryCutIsACleanStatusNeverACrash) {
  const std::string encoded = encode_one(std::string(300, 'x'));
  for (size_t length = 0; length < encoded.size(); ++length) {
    const auto decoded = decode_record(std::as_bytes(std::span(encoded.data(), length)), 7, 1 << 20);
    EXPECT_NE(decoded.status, DecodeStatus::kOk) << "cut at " << length;
  }
}

TEST(RecordCodec, EveryFlippedBitIsDetected) {
  const std::string encoded = encode_one("payload that must not silently change");
  for (size_t bit = 0; bit < encoded.size() * 8; ++bit) {
    std::string damaged = encoded;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    const auto decoded = decode_record(std::as_bytes(std::span(damaged)), 7, 1 << 20);
    EXPECT_NE(decoded.status, DecodeStatus::kOk) << "bit " << bit;
  }
}

TEST(RecordCodec, StaleGenerationIsRejected) {
  const std::string encoded = encode_one("from an earlier life of this file", 6);
  EXPECT_EQ(decode_record(std::as_bytes(std::span(encoded)), 7, 1 << 20).status,
            DecodeStatus::kBadGeneration);
}

TEST(RecordCodec, ZeroFilledSpaceIsTheEndNotDamage) {
  const std::string zeros(64, '\0');
  EXPECT_EQ(decode_record(std::as_bytes(std::span(zeros)), 7, 1 << 20).status, DecodeStatus::kZero);
}

TEST(RecordCodec, OversizedLengthIsRejectedBeforeReading) {
  const std::string encoded = encode_one(std::string(100, 'y'));
  EXPECT_EQ(decode_record(std::as_bytes(std::span(encoded)), 7, 50).status, DecodeStatus::kBadLength);
}

}  // namespace
}  // namespace ballast::storage

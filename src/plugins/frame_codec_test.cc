#include "plugins/frame_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace ballast::plugins {
namespace {

using nlohmann::json;

std::string length_prefix(uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>(length >> 16), static_cast<char>(length >> 8),
          static_cast<char>(length)};
}

TEST(FrameCodec, EncodesABigEndianLengthThenTheJsonText) {
  const std::string frame = encode_frame(json{{"type", "ping"}, {"id", 7}});
  const std::string text = R"({"id":7,"type":"ping"})";
  EXPECT_EQ(frame, length_prefix(static_cast<uint32_t>(text.size())) + text);
}

TEST(FrameCodec, DecodesFramesFedAtEveryCutPoint) {
  const std::string stream = encode_frame(json{{"type", "hello"}, {"protocol", 1}}) +
                             encode_frame(json{{"type", "pong"}, {"id", 3}});
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    std::vector<json> frames;
    for (std::string_view part :
         {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      decoder.feed(part);
      for (;;) {
        auto frame = decoder.next();
        ASSERT_TRUE(frame.ok()) << "cut " << cut << ": " << frame.error().describe();
        if (!*frame) break;
        frames.push_back(**frame);
      }
    }
    ASSERT_EQ(frames.size(), 2u) << "cut " << cut;
    EXPECT_EQ(frames[0]["type"], "hello");
    EXPECT_EQ(frames[1]["id"], 3);
    EXPECT_EQ(decoder.buffered_bytes(), 0u);
  }
}

TEST(FrameCodec, WaitsForMoreBytesOfAPartialFrame) {
  const std::string frame = encode_frame(json{{"type", "pong"}, {"id", 1}});
  FrameDecoder decoder;
  decoder.feed(std::string_view(frame).substr(0, frame.size() - 1));
  auto next = decoder.next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST(FrameCodec, RefusesALengthOverTheCapAndQuotesTheFirstBytes) {
  FrameDecoder decoder;
  decoder.feed(length_prefix(kMaxFrameBytes + 1) + "abc");
  auto next = decoder.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().code(), ErrorCode::kPluginUnavailable);
  EXPECT_NE(next.error().message().find("67108865"), std::string::npos) << next.error().message();
  EXPECT_NE(next.error().message().find("\\x04\\x00\\x00\\x01abc"), std::string::npos)
      << next.error().message();
  EXPECT_NE(next.error().fix().find("docs/plugins.md"), std::string::npos);
}

TEST(FrameCodec, RefusesPayloadsThatAreNotAJsonObjectWithAType) {
  for (const std::string payload : {"not json", "[1,2]", "\"text\"", "{}", R"({"type":5})", ""}) {
    FrameDecoder decoder;
    decoder.feed(length_prefix(static_cast<uint32_t>(payload.size())) + payload);
    auto next = decoder.next();
    ASSERT_FALSE(next.ok()) << payload;
    EXPECT_EQ(next.error().code(), ErrorCode::kPluginUnavailable);
  }
}

TEST(FrameCodec, StaysBrokenAfterAnError) {
  FrameDecoder decoder;
  decoder.feed(length_prefix(3) + "xyz");
  ASSERT_FALSE(decoder.next().ok());
  decoder.feed(encode_frame(json{{"type", "pong"}, {"id", 1}}));
  EXPECT_FALSE(decoder.next().ok());
}

TEST(FrameCodec, RandomGarbageGivesFramesOrAnErrorNeverACrash) {
  const uint32_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937 random(seed);
  for (int round = 0; round < 500; ++round) {
    std::string garbage(random() % 64, '\0');
    for (char& c : garbage) c = static_cast<char>(random() % 256);
    if (round % 2 == 0 && garbage.size() >= 4) garbage[0] = 0;  // often a plausible length
    FrameDecoder decoder;
    decoder.feed(garbage);
    for (int frames = 0; frames < 64; ++frames) {
      auto next = decoder.next();
      if (!next.ok() || !*next) break;
      EXPECT_TRUE((**next)["type"].is_string()) << "seed " << seed;
    }
  }
}

TEST(FrameCodec, QuoteBytesEscapesWhatIsNotPrintable) {
  EXPECT_EQ(quote_bytes(std::string("a\"b\x01", 4)), "a\\x22b\\x01");
  EXPECT_EQ(quote_bytes(std::string(70, 'x'), 64), std::string(64, 'x') + "...");
}

}  // namespace
}  // namespace ballast::plugins

#include "protocol/amqp091/frame.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "protocol/amqp091/methods.h"
#include "protocol/amqp091/wire.h"

namespace ballast::amqp {
namespace {

constexpr uint32_t kFrameMax = 131072;

// Cuts every frame off `bytes`; fails the test on anything but whole frames.
std::vector<Frame> all_frames(std::string_view bytes, uint32_t frame_max) {
  std::vector<Frame> frames;
  while (!bytes.empty()) {
    Frame frame;
    size_t consumed = 0;
    const FrameParse parsed = next_frame(bytes, frame_max, frame, consumed);
    EXPECT_EQ(parsed, FrameParse::kFrame) << "at " << frames.size() << " frames";
    if (parsed != FrameParse::kFrame) break;
    frames.push_back(frame);
    bytes.remove_prefix(consumed);
  }
  return frames;
}

// Writes `method` as a frame, cuts it back off and decodes it.
template <typename M>
M round_trip(const M& method, uint16_t channel = 1) {
  std::string out;
  write_method(out, channel, method);
  Frame frame;
  size_t consumed = 0;
  EXPECT_EQ(next_frame(out, kFrameMax, frame, consumed), FrameParse::kFrame);
  EXPECT_EQ(consumed, out.size());
  EXPECT_EQ(frame.type, static_cast<uint8_t>(FrameType::kMethod));
  EXPECT_EQ(frame.channel, channel);
  MethodId id;
  bool unknown = true;
  auto decoded = decode_method(frame.payload, id, unknown);
  EXPECT_FALSE(unknown);
  EXPECT_EQ(id.class_id, M::kClassId);
  EXPECT_EQ(id.method_id, M::kMethodId);
  if (!decoded || !std::holds_alternative<M>(*decoded)) {
    ADD_FAILURE() << "did not decode as " << M::kName;
    return M{};
  }
  return std::get<M>(*decoded);
}

BasicProperties all_properties() {
  FieldEntries headers;
  headers.emplace_back("h", FieldValue{std::string("v")});
  BasicProperties p;
  p.content_type = "application/json";
  p.content_encoding = "gzip";
  p.headers = encode_table(headers);
  p.delivery_mode = 2;
  p.priority = 7;
  p.correlation_id = "corr-1";
  p.reply_to = "amq.rabbitmq.reply-to";
  p.expiration = "60000";
  p.message_id = "msg-1";
  p.timestamp = 1700000000;
  p.type = "order.created";
  p.user_id = "guest";
  p.app_id = "billing";
  p.cluster_id = "c1";
  return p;
}

std::string encoded(const BasicProperties& properties) {
  std::string out;
  WireWriter writer(out);
  encode(properties, writer);
  return out;
}

TEST(NextFrame, CutsOneGoodFrame) {
  std::string out;
  write_frame(out, FrameType::kBody, 0x1234, "payload");
  out += "next";
  Frame frame;
  size_t consumed = 0;
  ASSERT_EQ(next_frame(out, kFrameMax, frame, consumed), FrameParse::kFrame);
  EXPECT_EQ(frame.type, static_cast<uint8_t>(FrameType::kBody));
  EXPECT_EQ(frame.channel, 0x1234);
  EXPECT_EQ(frame.payload, "payload");
  EXPECT_EQ(consumed, 7 + 7 + 1u);
}

TEST(NextFrame, WritesTheHeaderAsTheSpecSays) {
  std::string out;
  write_frame(out, FrameType::kHeader, 3, "ab");
  EXPECT_EQ(out, std::string("\x02\x00\x03\x00\x00\x00\x02"
                             "ab\xCE",
                             10));
  std::string heartbeat;
  write_heartbeat(heartbeat);
  EXPECT_EQ(heartbeat, std::string("\x08\x00\x00\x00\x00\x00\x00\xCE", 8));
}

TEST(NextFrame, NeedsMoreForEveryPrefixOfAFrame) {
  std::string out;
  write_method(out, 1, BasicPublish{});
  for (size_t cut = 0; cut < out.size(); ++cut) {
    Frame frame;
    size_t consumed = 0;
    EXPECT_EQ(next_frame(std::string_view(out).substr(0, cut), kFrameMax, frame, consumed),
              FrameParse::kNeedMore)
        << "prefix of " << cut << " bytes";
  }
}

TEST(NextFrame, RefusesABadFrameEnd) {
  std::string out;
  write_frame(out, FrameType::kMethod, 1, "abc");
  for (char end : {'\x00', '\xCD', '\xCF', '\xFF'}) {
    out.back() = end;
    Frame frame;
    size_t consumed = 0;
    EXPECT_EQ(next_frame(out, kFrameMax, frame, consumed), FrameParse::kBadEnd);
  }
}

TEST(NextFrame, RefusesAFrameOverFrameMaxFromItsHeaderAlone) {
  std::string out;
  write_frame(out, FrameType::kBody, 1, std::string(4096 - 8 + 1, 'x'));
  Frame frame;
  size_t consumed = 0;
  EXPECT_EQ(next_frame(out, 4096, frame, consumed), FrameParse::kTooLarge);
  // The size field is enough: no need to wait for a payload that will never be accepted.
  EXPECT_EQ(next_frame(std::string_view(out).substr(0, 7), 4096, frame, consumed), FrameParse::kTooLarge);
}

TEST(NextFrame, AcceptsAFrameOfExactlyFrameMax) {
  std::string out;
  write_frame(out, FrameType::kBody, 1, std::string(4096 - 8, 'x'));
  ASSERT_EQ(out.size(), 4096u);
  Frame frame;
  size_t consumed = 0;
  EXPECT_EQ(next_frame(out, 4096, frame, consumed), FrameParse::kFrame);
  EXPECT_EQ(consumed, 4096u);
}

TEST(NextFrame, RefusesASizeFieldNear4GiBWithoutOverflow) {
  const std::string header("\x03\x00\x01\xFF\xFF\xFF\xFF", 7);
  Frame frame;
  size_t consumed = 0;
  EXPECT_EQ(next_frame(header, kFrameMax, frame, consumed), FrameParse::kTooLarge);
  EXPECT_EQ(next_frame(header, std::numeric_limits<uint32_t>::max(), frame, consumed), FrameParse::kTooLarge);
}

TEST(NextFrame, TreatsFrameMaxZeroAsUnlimited) {
  std::string out;
  write_frame(out, FrameType::kBody, 1, std::string(200000, 'x'));
  Frame frame;
  size_t consumed = 0;
  EXPECT_EQ(next_frame(out, 0, frame, consumed), FrameParse::kFrame);
  EXPECT_EQ(frame.payload.size(), 200000u);
}

TEST(NextFrame, CutsBackToBackFramesInOrder) {
  std::string out;
  write_frame(out, FrameType::kMethod, 1, "one");
  write_heartbeat(out);
  write_frame(out, FrameType::kBody, 2, "");
  const std::vector<Frame> frames = all_frames(out, kFrameMax);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].payload, "one");
  EXPECT_EQ(frames[1].type, static_cast<uint8_t>(FrameType::kHeartbeat));
  EXPECT_EQ(frames[2].channel, 2);
  EXPECT_TRUE(frames[2].payload.empty());
}

TEST(WriteMethod, BasicPublishReadsBack) {
  BasicPublish publish;
  publish.ticket = 0;
  publish.exchange = "orders";
  publish.routing_key = "order.created.eu";
  publish.mandatory = true;
  publish.immediate = false;
  const BasicPublish back = round_trip(publish, 7);
  EXPECT_EQ(back.exchange, "orders");
  EXPECT_EQ(back.routing_key, "order.created.eu");
  EXPECT_TRUE(back.mandatory);
  EXPECT_FALSE(back.immediate);
}

TEST(WriteMethod, QueueDeclarePacksItsBitsIntoOneOctet) {
  FieldEntries arguments;
  arguments.emplace_back("x-max-length", FieldValue{int32_t{10}});
  QueueDeclare declare;
  declare.queue = "invoices";
  declare.passive = false;
  declare.durable = true;
  declare.exclusive = false;
  declare.auto_delete = true;
  declare.nowait = true;
  declare.arguments = encode_table(arguments);

  std::string out;
  write_method(out, 1, declare);
  // class, method, ticket, shortstr "invoices", then the bits octet.
  const size_t bits_at = 7 + 2 + 2 + 2 + 1 + declare.queue.size();
  EXPECT_EQ(static_cast<uint8_t>(out[bits_at]), 0b11010);

  const QueueDeclare back = round_trip(declare);
  EXPECT_EQ(back.queue, "invoices");
  EXPECT_FALSE(back.passive);
  EXPECT_TRUE(back.durable);
  EXPECT_FALSE(back.exclusive);
  EXPECT_TRUE(back.auto_delete);
  EXPECT_TRUE(back.nowait);
  EXPECT_EQ(back.arguments, declare.arguments);
}

TEST(WriteMethod, QueueDeclareDecodesEachBitAlone) {
  for (int bit = 0; bit < 5; ++bit) {
    QueueDeclare declare;
    declare.passive = bit == 0;
    declare.durable = bit == 1;
    declare.exclusive = bit == 2;
    declare.auto_delete = bit == 3;
    declare.nowait = bit == 4;
    const QueueDeclare back = round_trip(declare);
    EXPECT_EQ(back.passive, bit == 0);
    EXPECT_EQ(back.durable, bit == 1);
    EXPECT_EQ(back.exclusive, bit == 2);
    EXPECT_EQ(back.auto_delete, bit == 3);
    EXPECT_EQ(back.nowait, bit == 4);
  }
}

TEST(WriteMethod, ConnectionTuneReadsBackOnChannelZero) {
  ConnectionTune tune;
  tune.channel_max = 2047;
  tune.frame_max = 131072;
  tune.heartbeat = 60;
  const ConnectionTune back = round_trip(tune, 0);
  EXPECT_EQ(back.channel_max, 2047);
  EXPECT_EQ(back.frame_max, 131072u);
  EXPECT_EQ(back.heartbeat, 60);
}

TEST(WriteMethod, ConnectionCloseReadsBack) {
  ConnectionClose close{501, "FRAME_ERROR - bad", 60, 40};
  const ConnectionClose back = round_trip(close, 0);
  EXPECT_EQ(back.reply_code, 501);
  EXPECT_EQ(back.reply_text, "FRAME_ERROR - bad");
  EXPECT_EQ(back.class_id, 60);
  EXPECT_EQ(back.method_id, 40);
}

TEST(WriteContent, WritesAHeaderFrameAndOneBodyFrame) {
  const std::string properties = encoded(all_properties());
  std::string out;
  write_content(out, 3, properties, "hello", kFrameMax);
  const std::vector<Frame> frames = all_frames(out, kFrameMax);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, static_cast<uint8_t>(FrameType::kHeader));
  EXPECT_EQ(frames[0].channel, 3);
  WireReader header(frames[0].payload);
  uint16_t class_id = 0, weight = 1;
  uint64_t body_size = 0;
  ASSERT_TRUE(header.short_(class_id));
  ASSERT_TRUE(header.short_(weight));
  ASSERT_TRUE(header.longlong(body_size));
  EXPECT_EQ(class_id, 60);
  EXPECT_EQ(weight, 0);
  EXPECT_EQ(body_size, 5u);
  std::string_view rest;
  ASSERT_TRUE(header.bytes(header.remaining(), rest));
  EXPECT_EQ(rest, properties);
  EXPECT_EQ(frames[1].type, static_cast<uint8_t>(FrameType::kBody));
  EXPECT_EQ(frames[1].payload, "hello");
}

TEST(WriteContent, WritesNoBodyFrameForAnEmptyBody) {
  std::string out;
  write_content(out, 1, encoded({}), "", 4096);
  const std::vector<Frame> frames = all_frames(out, 4096);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, static_cast<uint8_t>(FrameType::kHeader));
}

TEST(WriteContent, SplitsABodyLargerThanFrameMaxIntoFramesOfAtMostFrameMax) {
  constexpr uint32_t kSmallFrameMax = 4096;
  std::string body;
  for (int i = 0; i < 3 * 4096 + 17; ++i) body.push_back(static_cast<char>(i * 31));
  std::string out;
  write_content(out, 9, encoded({}), body, kSmallFrameMax);

  std::string_view rest(out);
  std::string reassembled;
  int body_frames = 0;
  while (!rest.empty()) {
    Frame frame;
    size_t consumed = 0;
    ASSERT_EQ(next_frame(rest, kSmallFrameMax, frame, consumed), FrameParse::kFrame);
    EXPECT_LE(consumed, kSmallFrameMax);
    EXPECT_EQ(frame.channel, 9);
    if (frame.type == static_cast<uint8_t>(FrameType::kBody)) {
      ++body_frames;
      reassembled.append(frame.payload);
    }
    rest.remove_prefix(consumed);
  }
  EXPECT_EQ(reassembled, body);
  // Frames as full as allowed: ceil(body / (frame_max - 8)).
  EXPECT_EQ(body_frames, static_cast<int>((body.size() + kSmallFrameMax - 9) / (kSmallFrameMax - 8)));
}

TEST(WriteContent, FillsBodyFramesExactlyWhenTheBodyDividesEvenly) {
  const std::string body(2 * (4096 - 8), 'b');
  std::string out;
  write_content(out, 1, encoded({}), body, 4096);
  const std::vector<Frame> frames = all_frames(out, 4096);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[1].payload.size(), 4096u - 8);
  EXPECT_EQ(frames[2].payload.size(), 4096u - 8);
}

TEST(DecodeMethod, FlagsAnUnknownClass) {
  const std::string payload("\x00\x63\x00\x0A", 4);  // class 99, method 10
  MethodId id;
  bool unknown = false;
  EXPECT_FALSE(decode_method(payload, id, unknown));
  EXPECT_TRUE(unknown);
  EXPECT_EQ(id.class_id, 99);
  EXPECT_EQ(id.method_id, 10);
  EXPECT_EQ(method_name(99, 10), "unknown");
}

TEST(DecodeMethod, FlagsAnUnknownMethodOfAKnownClass) {
  const std::string payload("\x00\x3C\x03\xE7", 4);  // basic (60), method 999
  MethodId id;
  bool unknown = false;
  EXPECT_FALSE(decode_method(payload, id, unknown));
  EXPECT_TRUE(unknown);
  EXPECT_EQ(id.class_id, 60);
  EXPECT_EQ(id.method_id, 999);
}

TEST(DecodeMethod, FailsCleanlyAtEveryCutOfItsArguments) {
  BasicPublish publish;
  publish.exchange = "ex";
  publish.routing_key = "rk";
  std::string payload;
  WireWriter writer(payload);
  encode_method(publish, writer);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    MethodId id;
    bool unknown = true;
    EXPECT_FALSE(decode_method(std::string_view(payload).substr(0, cut), id, unknown)) << "cut at " << cut;
    EXPECT_FALSE(unknown) << "a truncated known method is not unknown; cut at " << cut;
  }
  MethodId id;
  bool unknown = true;
  EXPECT_TRUE(decode_method(payload, id, unknown));
}

TEST(DecodeMethod, FailsCleanlyAtEveryCutOfATableArgument) {
  FieldEntries arguments;
  arguments.emplace_back("x-message-ttl", FieldValue{int64_t{60000}});
  arguments.emplace_back("x-dead-letter-exchange", FieldValue{std::string("dlx")});
  QueueDeclare declare;
  declare.queue = "q";
  declare.arguments = encode_table(arguments);
  std::string payload;
  WireWriter writer(payload);
  encode_method(declare, writer);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    MethodId id;
    bool unknown = true;
    EXPECT_FALSE(decode_method(std::string_view(payload).substr(0, cut), id, unknown)) << "cut at " << cut;
    EXPECT_FALSE(unknown);
  }
}

TEST(DecodeMethod, NamesKnownMethods) {
  EXPECT_EQ(method_name(60, 40), "basic.publish");
  EXPECT_EQ(method_name(50, 10), "queue.declare");
  EXPECT_EQ(method_name(10, 30), "connection.tune");
}

TEST(BasicPropertiesCodec, RoundTripsAllFourteenProperties) {
  const BasicProperties properties = all_properties();
  const std::string raw = encoded(properties);
  // Every property flag bit from 15 down to 2 is set; bit 0 (continuation) is not.
  EXPECT_EQ(static_cast<uint8_t>(raw[0]), 0xFF);
  EXPECT_EQ(static_cast<uint8_t>(raw[1]), 0xFC);
  BasicProperties back;
  WireReader reader(raw);
  ASSERT_TRUE(decode(reader, back));
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_EQ(back, properties);
  EXPECT_EQ(encoded(back), raw);
}

TEST(BasicPropertiesCodec, RoundTripsNoProperties) {
  const std::string raw = encoded({});
  EXPECT_EQ(raw, std::string("\x00\x00", 2));
  BasicProperties fresh;
  WireReader reader(raw);
  ASSERT_TRUE(decode(reader, fresh));
  EXPECT_EQ(fresh, BasicProperties{});
}

TEST(BasicPropertiesCodec, RoundTripsEachPropertyAlone) {
  const BasicProperties all = all_properties();
  const std::vector<BasicProperties> singles = [&] {
    std::vector<BasicProperties> out(14);
    out[0].content_type = all.content_type;
    out[1].content_encoding = all.content_encoding;
    out[2].headers = all.headers;
    out[3].delivery_mode = all.delivery_mode;
    out[4].priority = all.priority;
    out[5].correlation_id = all.correlation_id;
    out[6].reply_to = all.reply_to;
    out[7].expiration = all.expiration;
    out[8].message_id = all.message_id;
    out[9].timestamp = all.timestamp;
    out[10].type = all.type;
    out[11].user_id = all.user_id;
    out[12].app_id = all.app_id;
    out[13].cluster_id = all.cluster_id;
    return out;
  }();
  for (size_t i = 0; i < singles.size(); ++i) {
    const std::string raw = encoded(singles[i]);
    const uint16_t flags =
        static_cast<uint16_t>((static_cast<uint8_t>(raw[0]) << 8) | static_cast<uint8_t>(raw[1]));
    EXPECT_EQ(flags, 1u << (15 - i)) << "property " << i;
    BasicProperties back;
    WireReader reader(raw);
    ASSERT_TRUE(decode(reader, back)) << "property " << i;
    EXPECT_EQ(back, singles[i]) << "property " << i;
  }
}

TEST(BasicPropertiesCodec, FailsCleanlyAtEveryCut) {
  const std::string raw = encoded(all_properties());
  for (size_t cut = 0; cut < raw.size(); ++cut) {
    BasicProperties back;
    WireReader reader(std::string_view(raw).substr(0, cut));
    EXPECT_FALSE(decode(reader, back)) << "cut at " << cut;
  }
}

TEST(BasicPropertiesCodec, RefusesAContinuationFlag) {
  BasicProperties back;
  const std::string flags_with_continuation("\x00\x01\x00\x00", 4);
  WireReader reader(flags_with_continuation);
  EXPECT_FALSE(decode(reader, back));
}

}  // namespace
}  // namespace ballast::amqp

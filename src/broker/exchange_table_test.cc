#include "broker/exchange_table.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ballast::broker {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using Queues = std::vector<std::string>;

const std::string kVhost = "/";

ExchangeSettings settings(ExchangeType type, bool durable = true, bool auto_delete = false) {
  ExchangeSettings out;
  out.type = type;
  out.durable = durable;
  out.auto_delete = auto_delete;
  return out;
}

Binding binding(std::string exchange, std::string queue, std::string key = "", Pairs arguments = {}) {
  return Binding{std::move(exchange), std::move(queue), std::move(key), std::move(arguments)};
}

void declare(ExchangeTable& table, const std::string& name, const ExchangeSettings& exchange) {
  bool changed = false;
  auto status = table.declare(kVhost, name, exchange, changed);
  ASSERT_TRUE(status.ok()) << status.error().describe();
}

void bind(ExchangeTable& table, const Binding& what) {
  bool changed = false;
  auto status = table.bind(kVhost, what, changed);
  ASSERT_TRUE(status.ok()) << status.error().describe();
}

// The RabbitMQ topic semantics: words split on '.', the empty key has no words, `*` is exactly
// one word, `#` zero or more.
TEST(TopicMatches, MatchesLiteralWords) {
  EXPECT_TRUE(topic_matches("a.b.c", "a.b.c"));
  EXPECT_FALSE(topic_matches("a.b.c", "a.b"));
  EXPECT_FALSE(topic_matches("a.b", "a.b.c"));
  EXPECT_FALSE(topic_matches("a.b.c", "a.b.C"));
  EXPECT_FALSE(topic_matches("ab", "a.b"));
}

TEST(TopicMatches, StarIsExactlyOneWord) {
  EXPECT_TRUE(topic_matches("*", "a"));
  EXPECT_FALSE(topic_matches("*", "a.b"));
  EXPECT_TRUE(topic_matches("a.*", "a.b"));
  EXPECT_FALSE(topic_matches("a.*", "a"));
  EXPECT_FALSE(topic_matches("a.*", "a.b.c"));
  EXPECT_TRUE(topic_matches("*.b.*", "a.b.c"));
  EXPECT_FALSE(topic_matches("*.b.*", "b.c"));
  EXPECT_TRUE(topic_matches("*.*", "a.b"));
}

TEST(TopicMatches, StarMatchesAnEmptyWordBetweenDots) {
  EXPECT_TRUE(topic_matches("a.*.b", "a..b"));
  EXPECT_TRUE(topic_matches("*.*", "a."));
  EXPECT_TRUE(topic_matches("a..b", "a..b"));
}

TEST(TopicMatches, TheEmptyKeyHasNoWords) {
  EXPECT_TRUE(topic_matches("", ""));
  EXPECT_FALSE(topic_matches("", "a"));
  EXPECT_FALSE(topic_matches("a", ""));
  EXPECT_TRUE(topic_matches("#", ""));
  EXPECT_TRUE(topic_matches("#.#", ""));
  // RabbitMQ: `*` needs a word, and "" has none.
  EXPECT_FALSE(topic_matches("*", ""));
  EXPECT_FALSE(topic_matches("#.*", ""));
  EXPECT_FALSE(topic_matches("*.#", ""));
}

TEST(TopicMatches, HashAloneMatchesEverything) {
  EXPECT_TRUE(topic_matches("#", "a"));
  EXPECT_TRUE(topic_matches("#", "a.b.c.d.e"));
  EXPECT_TRUE(topic_matches("#", "."));
}

TEST(TopicMatches, HashAtTheStart) {
  EXPECT_TRUE(topic_matches("#.c", "c"));
  EXPECT_TRUE(topic_matches("#.c", "b.c"));
  EXPECT_TRUE(topic_matches("#.c", "a.b.c"));
  EXPECT_FALSE(topic_matches("#.c", "a.c.d"));
  EXPECT_FALSE(topic_matches("#.c", "a.b"));
}

TEST(TopicMatches, HashAtTheEndMatchesZeroOrMoreWords) {
  EXPECT_TRUE(topic_matches("a.#", "a"));
  EXPECT_TRUE(topic_matches("a.#", "a.b"));
  EXPECT_TRUE(topic_matches("a.#", "a.b.c"));
  EXPECT_FALSE(topic_matches("a.#", "b"));
  EXPECT_FALSE(topic_matches("a.#", "b.a"));
}

TEST(TopicMatches, HashInTheMiddle) {
  EXPECT_TRUE(topic_matches("a.#.b", "a.b"));
  EXPECT_TRUE(topic_matches("a.#.b", "a.x.b"));
  EXPECT_TRUE(topic_matches("a.#.b", "a.x.y.z.b"));
  EXPECT_TRUE(topic_matches("a.#.b", "a.b.b"));
  EXPECT_FALSE(topic_matches("a.#.b", "a.b.c"));
  EXPECT_FALSE(topic_matches("a.#.b", "a"));
  EXPECT_FALSE(topic_matches("a.#.b", "b"));
}

TEST(TopicMatches, HashAndStarTogether) {
  EXPECT_TRUE(topic_matches("*.#", "a"));
  EXPECT_TRUE(topic_matches("#.*", "a"));
  EXPECT_TRUE(topic_matches("#.*", "a.b.c"));
  EXPECT_TRUE(topic_matches("a.*.#", "a.b"));
  EXPECT_FALSE(topic_matches("a.*.#", "a"));
  EXPECT_TRUE(topic_matches("#.a.#", "a"));
  EXPECT_TRUE(topic_matches("#.a.#", "x.a.y"));
  EXPECT_FALSE(topic_matches("#.a.#", "x.b.y"));
  EXPECT_TRUE(topic_matches("#.#.c", "c"));
}

TEST(TopicMatches, HashIsOnlyAWildcardAsAWholeWord) {
  EXPECT_FALSE(topic_matches("a#", "ab"));
  EXPECT_TRUE(topic_matches("a#", "a#"));
  EXPECT_FALSE(topic_matches("a*", "ab"));
}

TEST(HeadersMatch, AllNeedsEveryBindingHeader) {
  const Pairs arguments{{"x-match", "all"}, {"format", "pdf"}, {"type", "report"}};
  EXPECT_TRUE(headers_match(arguments, {{"format", "pdf"}, {"type", "report"}, {"extra", "1"}}));
  EXPECT_FALSE(headers_match(arguments, {{"format", "pdf"}}));
  EXPECT_FALSE(headers_match(arguments, {{"format", "pdf"}, {"type", "log"}}));
  EXPECT_FALSE(headers_match(arguments, {}));
}

TEST(HeadersMatch, AllIsTheDefault) {
  const Pairs arguments{{"format", "pdf"}, {"type", "report"}};
  EXPECT_TRUE(headers_match(arguments, {{"type", "report"}, {"format", "pdf"}}));
  EXPECT_FALSE(headers_match(arguments, {{"format", "pdf"}}));
}

TEST(HeadersMatch, AnyNeedsOneBindingHeader) {
  const Pairs arguments{{"x-match", "any"}, {"format", "pdf"}, {"type", "report"}};
  EXPECT_TRUE(headers_match(arguments, {{"type", "report"}}));
  EXPECT_TRUE(headers_match(arguments, {{"format", "pdf"}, {"type", "log"}}));
  EXPECT_FALSE(headers_match(arguments, {{"format", "zip"}, {"type", "log"}}));
  EXPECT_FALSE(headers_match(arguments, {}));
}

TEST(HeadersMatch, AnyWithXIsAny) {
  EXPECT_TRUE(headers_match({{"x-match", "any-with-x"}, {"a", "1"}, {"b", "2"}}, {{"b", "2"}}));
}

TEST(HeadersMatch, AnEmptyBindingValueMatchesAnyValueOfAPresentHeader) {
  const Pairs arguments{{"format", ""}};
  EXPECT_TRUE(headers_match(arguments, {{"format", "anything"}}));
  EXPECT_TRUE(headers_match(arguments, {{"format", ""}}));
  EXPECT_FALSE(headers_match(arguments, {{"other", "x"}}));
}

TEST(HeadersMatch, IgnoresXArgumentsOtherThanXMatch) {
  EXPECT_TRUE(headers_match({{"x-match", "all"}, {"x-foo", "1"}, {"a", "1"}}, {{"a", "1"}}));
  // No real argument: all holds vacuously, any has nothing to match.
  EXPECT_TRUE(headers_match({{"x-match", "all"}}, {}));
  EXPECT_FALSE(headers_match({{"x-match", "any"}}, {{"a", "1"}}));
}

TEST(ExchangeTable, PredeclaresTheAmqExchanges) {
  ExchangeTable table;
  EXPECT_TRUE(table.exists(""));
  for (const char* name : {"amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match"}) {
    EXPECT_TRUE(table.exists(name)) << name;
    EXPECT_TRUE(ExchangeTable::predeclared(name)) << name;
  }
  ASSERT_NE(table.find("amq.topic"), nullptr);
  EXPECT_EQ(table.find("amq.topic")->type, ExchangeType::kTopic);
  EXPECT_EQ(table.find("amq.match")->type, ExchangeType::kHeaders);
  EXPECT_FALSE(table.exists("orders"));
  EXPECT_EQ(table.find("orders"), nullptr);
}

TEST(ExchangeTable, DeclaresAnExchangeOnceAndAcceptsTheSameSettingsAgain) {
  ExchangeTable table;
  bool changed = false;
  ASSERT_TRUE(table.declare(kVhost, "orders", settings(ExchangeType::kTopic), changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_TRUE(table.exists("orders"));
  ASSERT_TRUE(table.declare(kVhost, "orders", settings(ExchangeType::kTopic), changed).ok());
  EXPECT_FALSE(changed);
}

TEST(ExchangeTable, RefusesARedeclarationWithAnotherType) {
  ExchangeTable table;
  declare(table, "orders", settings(ExchangeType::kTopic));
  bool changed = true;
  auto status = table.declare(kVhost, "orders", settings(ExchangeType::kFanout), changed);
  ASSERT_FALSE(status.ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(status.error().code(), ErrorCode::kQueueExistsDifferent);
  EXPECT_NE(status.error().message().find("\"orders\""), std::string::npos) << status.error().describe();
  EXPECT_NE(status.error().message().find("type"), std::string::npos) << status.error().describe();
  EXPECT_EQ(table.find("orders")->type, ExchangeType::kTopic);
}

TEST(ExchangeTable, RefusesARedeclarationWithOtherFlags) {
  ExchangeTable table;
  declare(table, "orders", settings(ExchangeType::kDirect, true, false));
  bool changed = false;
  auto durable = table.declare(kVhost, "orders", settings(ExchangeType::kDirect, false, false), changed);
  ASSERT_FALSE(durable.ok());
  EXPECT_NE(durable.error().message().find("durable"), std::string::npos);
  auto auto_delete = table.declare(kVhost, "orders", settings(ExchangeType::kDirect, true, true), changed);
  ASSERT_FALSE(auto_delete.ok());
  EXPECT_NE(auto_delete.error().message().find("auto_delete"), std::string::npos);
}

TEST(ExchangeTable, RefusesNewAmqNames) {
  ExchangeTable table;
  bool changed = true;
  auto status = table.declare(kVhost, "amq.custom", settings(ExchangeType::kDirect), changed);
  ASSERT_FALSE(status.ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(status.error().code(), ErrorCode::kAccessRefused);
  EXPECT_NE(status.error().message().find("amq.custom"), std::string::npos);
  EXPECT_FALSE(table.exists("amq.custom"));
}

TEST(ExchangeTable, RefusesTheDefaultExchangeAndOverlongNames) {
  ExchangeTable table;
  bool changed = false;
  EXPECT_EQ(table.declare(kVhost, "", settings(ExchangeType::kDirect), changed).error().code(),
            ErrorCode::kAccessRefused);
  EXPECT_EQ(
      table.declare(kVhost, std::string(256, 'e'), settings(ExchangeType::kDirect), changed).error().code(),
      ErrorCode::kAccessRefused);
  EXPECT_TRUE(table.declare(kVhost, std::string(255, 'e'), settings(ExchangeType::kDirect), changed).ok());
}

TEST(ExchangeTable, AcceptsARedeclarationOfAPredeclaredExchangeWithItsType) {
  ExchangeTable table;
  bool changed = true;
  ASSERT_TRUE(table.declare(kVhost, "amq.direct", settings(ExchangeType::kDirect), changed).ok());
  EXPECT_FALSE(changed);
  // Clients differ in the flags they send for amq.*; only the type is checked.
  ASSERT_TRUE(
      table.declare(kVhost, "amq.direct", settings(ExchangeType::kDirect, false, true), changed).ok());
  auto other_type = table.declare(kVhost, "amq.direct", settings(ExchangeType::kFanout), changed);
  ASSERT_FALSE(other_type.ok());
  EXPECT_EQ(other_type.error().code(), ErrorCode::kQueueExistsDifferent);
}

TEST(ExchangeTable, RefusesToRemoveAPredeclaredExchange) {
  ExchangeTable table;
  for (const char* name : {"", "amq.direct", "amq.topic"}) {
    auto status = table.remove(kVhost, name, false);
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.error().code(), ErrorCode::kAccessRefused);
  }
  EXPECT_TRUE(table.exists("amq.direct"));
}

TEST(ExchangeTable, RemovesAnExchangeOrSaysItDoesNotExist) {
  ExchangeTable table;
  declare(table, "orders", settings(ExchangeType::kDirect));
  bind(table, binding("orders", "q1", "k"));
  ASSERT_TRUE(table.remove(kVhost, "orders", false).ok());
  EXPECT_FALSE(table.exists("orders"));
  EXPECT_TRUE(table.route("orders", "k", {}).empty());
  auto missing = table.remove(kVhost, "orders", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("\"orders\""), std::string::npos);
}

TEST(ExchangeTable, IfUnusedRefusesToRemoveAnExchangeWithBindings) {
  ExchangeTable table;
  declare(table, "orders", settings(ExchangeType::kDirect));
  bind(table, binding("orders", "q1", "k"));
  auto status = table.remove(kVhost, "orders", true);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);  // PRECONDITION_FAILED on the wire
  EXPECT_NE(status.error().message().find("\"orders\""), std::string::npos);
  EXPECT_TRUE(table.exists("orders"));
  declare(table, "unused", settings(ExchangeType::kDirect));
  EXPECT_TRUE(table.remove(kVhost, "unused", true).ok());
}

TEST(ExchangeTable, BindIsIdempotent) {
  ExchangeTable table;
  declare(table, "orders", settings(ExchangeType::kDirect));
  bool changed = false;
  ASSERT_TRUE(table.bind(kVhost, binding("orders", "q1", "k"), changed).ok());
  EXPECT_TRUE(changed);
  ASSERT_TRUE(table.bind(kVhost, binding("orders", "q1", "k"), changed).ok());
  EXPECT_FALSE(changed);
  ASSERT_TRUE(table.bind(kVhost, binding("orders", "q1", "other"), changed).ok());
  EXPECT_TRUE(changed);
  // One unbind removes the binding: it was stored once.
  ASSERT_TRUE(table.unbind(kVhost, binding("orders", "q1", "k"), changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_TRUE(table.route("orders", "k", {}).empty());
}

TEST(ExchangeTable, RefusesBindingsToTheDefaultOrAMissingExchange) {
  ExchangeTable table;
  bool changed = false;
  EXPECT_EQ(table.bind(kVhost, binding("", "q1", "q1"), changed).error().code(), ErrorCode::kAccessRefused);
  auto missing = table.bind(kVhost, binding("nope", "q1", "k"), changed);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("\"nope\""), std::string::npos);
  EXPECT_EQ(table.unbind(kVhost, binding("nope", "q1", "k"), changed).error().code(), ErrorCode::kNotFound);
}

TEST(ExchangeTable, UnbindingWhatIsNotBoundSucceedsWithoutChange) {
  ExchangeTable table;
  declare(table, "orders", settings(ExchangeType::kDirect));
  bool changed = true;
  ASSERT_TRUE(table.unbind(kVhost, binding("orders", "q1", "k"), changed).ok());
  EXPECT_FALSE(changed);
}

TEST(ExchangeTable, UnbindingTheLastBindingOfAnAutoDeleteExchangeRemovesIt) {
  ExchangeTable table;
  declare(table, "temp", settings(ExchangeType::kFanout, true, true));
  bind(table, binding("temp", "q1"));
  bind(table, binding("temp", "q2"));
  bool changed = false;
  ASSERT_TRUE(table.unbind(kVhost, binding("temp", "q1"), changed).ok());
  EXPECT_TRUE(table.exists("temp"));
  ASSERT_TRUE(table.unbind(kVhost, binding("temp", "q2"), changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_FALSE(table.exists("temp"));
}

TEST(ExchangeTable, KeepsANonAutoDeleteExchangeWithoutBindings) {
  ExchangeTable table;
  declare(table, "kept", settings(ExchangeType::kFanout));
  bind(table, binding("kept", "q1"));
  bool changed = false;
  ASSERT_TRUE(table.unbind(kVhost, binding("kept", "q1"), changed).ok());
  EXPECT_TRUE(table.exists("kept"));
}

TEST(ExchangeTable, KeepsAnAutoDeleteExchangeThatNeverHadABinding) {
  ExchangeTable table;
  declare(table, "temp", settings(ExchangeType::kFanout, true, true));
  EXPECT_TRUE(table.exists("temp"));
}

TEST(ExchangeTable, ForgetQueueRemovesItsBindingsEverywhere) {
  ExchangeTable table;
  declare(table, "a", settings(ExchangeType::kFanout));
  declare(table, "b", settings(ExchangeType::kDirect));
  declare(table, "temp", settings(ExchangeType::kFanout, true, true));
  bind(table, binding("a", "gone"));
  bind(table, binding("a", "stays"));
  bind(table, binding("b", "gone", "k1"));
  bind(table, binding("b", "gone", "k2"));
  bind(table, binding("temp", "gone"));
  bind(table, binding("amq.fanout", "gone"));

  EXPECT_TRUE(table.forget_queue("gone"));
  EXPECT_EQ(table.route("a", "", {}), Queues{"stays"});
  EXPECT_TRUE(table.route("b", "k1", {}).empty());
  EXPECT_TRUE(table.route("b", "k2", {}).empty());
  EXPECT_TRUE(table.route("amq.fanout", "", {}).empty());
  EXPECT_FALSE(table.exists("temp")) << "an auto-delete exchange goes with its last binding";
  EXPECT_TRUE(table.exists("b"));
  EXPECT_FALSE(table.forget_queue("gone"));
  EXPECT_FALSE(table.forget_queue("never-bound"));
}

TEST(ExchangeTable, RoutesDirectByExactKey) {
  ExchangeTable table;
  declare(table, "d", settings(ExchangeType::kDirect));
  bind(table, binding("d", "q1", "red"));
  bind(table, binding("d", "q2", "red"));
  bind(table, binding("d", "q3", "blue"));
  EXPECT_EQ(table.route("d", "red", {}), (Queues{"q1", "q2"}));
  EXPECT_EQ(table.route("d", "blue", {}), Queues{"q3"});
  EXPECT_TRUE(table.route("d", "green", {}).empty());
  EXPECT_TRUE(table.route("d", "re", {}).empty());
}

TEST(ExchangeTable, RoutesFanoutToEveryQueueOnce) {
  ExchangeTable table;
  declare(table, "f", settings(ExchangeType::kFanout));
  bind(table, binding("f", "q1", "x"));
  bind(table, binding("f", "q1", "y"));
  bind(table, binding("f", "q2"));
  EXPECT_EQ(table.route("f", "anything", {}), (Queues{"q1", "q2"}));
}

TEST(ExchangeTable, RoutesTopicAndCollapsesDuplicates) {
  ExchangeTable table;
  declare(table, "t", settings(ExchangeType::kTopic));
  bind(table, binding("t", "all", "#"));
  bind(table, binding("t", "eu", "*.eu.#"));
  bind(table, binding("t", "eu", "order.*.created"));
  bind(table, binding("t", "us", "*.us.#"));
  EXPECT_EQ(table.route("t", "order.eu.created", {}), (Queues{"all", "eu"}));
  EXPECT_EQ(table.route("t", "order.us", {}), (Queues{"all", "us"}));
  EXPECT_EQ(table.route("t", "x", {}), Queues{"all"});
}

TEST(ExchangeTable, RoutesHeadersAndCollapsesDuplicates) {
  ExchangeTable table;
  declare(table, "h", settings(ExchangeType::kHeaders));
  bind(table, binding("h", "pdf", "", {{"x-match", "all"}, {"format", "pdf"}}));
  bind(table, binding("h", "pdf", "", {{"x-match", "any"}, {"format", "pdf"}, {"type", "report"}}));
  bind(table, binding("h", "reports", "", {{"type", "report"}}));
  EXPECT_EQ(table.route("h", "ignored", {{"format", "pdf"}, {"type", "report"}}), (Queues{"pdf", "reports"}));
  EXPECT_EQ(table.route("h", "", {{"type", "report"}}), (Queues{"pdf", "reports"}));
  EXPECT_TRUE(table.route("h", "", {{"format", "zip"}}).empty());
}

TEST(ExchangeTable, RoutesNothingForAnUnknownOrDefaultExchange) {
  ExchangeTable table;
  EXPECT_TRUE(table.route("nope", "k", {}).empty());
  EXPECT_TRUE(table.route("", "some-queue", {}).empty());
}

ExchangeTable populated() {
  ExchangeTable table;
  declare(table, "durable.topic", settings(ExchangeType::kTopic, true, false));
  declare(table, "transient", settings(ExchangeType::kFanout, false, false));
  declare(table, "durable.headers", settings(ExchangeType::kHeaders, true, true));
  ExchangeSettings internal = settings(ExchangeType::kDirect);
  internal.internal = true;
  declare(table, "internal", internal);
  bind(table, binding("durable.topic", "q1", "a.#"));
  bind(table, binding("durable.topic", "q2", "*.b"));
  bind(table, binding("transient", "q3"));
  bind(table, binding("durable.headers", "q4", "", {{"x-match", "any"}, {"k", "v"}, {"empty", ""}}));
  bind(table, binding("amq.direct", "q5", "k"));
  return table;
}

TEST(ExchangeTable, EncodeDecodeRoundTrips) {
  const ExchangeTable table = populated();
  const std::string encoded = table.encode();
  ExchangeTable decoded;
  ASSERT_TRUE(decoded.decode(encoded, false));
  EXPECT_EQ(decoded.encode(), encoded);
  for (const char* name : {"durable.topic", "transient", "durable.headers", "internal", "amq.direct"}) {
    ASSERT_NE(decoded.find(name), nullptr) << name;
    EXPECT_EQ(*decoded.find(name), *table.find(name)) << name;
  }
  EXPECT_TRUE(decoded.find("internal")->internal);
  EXPECT_EQ(decoded.route("durable.topic", "a.b", {}), (Queues{"q1", "q2"}));
  EXPECT_EQ(decoded.route("transient", "", {}), Queues{"q3"});
  EXPECT_EQ(decoded.route("durable.headers", "", {{"empty", "x"}}), Queues{"q4"});
  EXPECT_EQ(decoded.route("amq.direct", "k", {}), Queues{"q5"});
}

TEST(ExchangeTable, DecodeAfterRestartDropsNonDurableExchanges) {
  const std::string encoded = populated().encode();
  ExchangeTable decoded;
  ASSERT_TRUE(decoded.decode(encoded, true));
  EXPECT_FALSE(decoded.exists("transient"));
  EXPECT_TRUE(decoded.route("transient", "", {}).empty());
  EXPECT_TRUE(decoded.exists("durable.topic"));
  EXPECT_TRUE(decoded.exists("durable.headers"));
  EXPECT_EQ(decoded.route("durable.topic", "a.b", {}), (Queues{"q1", "q2"}));
  EXPECT_TRUE(decoded.exists("amq.fanout"));
}

TEST(ExchangeTable, DecodeReplacesWhatWasThere) {
  ExchangeTable empty;
  const std::string encoded = empty.encode();
  ExchangeTable table = populated();
  ASSERT_TRUE(table.decode(encoded, false));
  EXPECT_FALSE(table.exists("durable.topic"));
  EXPECT_TRUE(table.route("amq.direct", "k", {}).empty());
  EXPECT_TRUE(table.exists("amq.headers"));
}

TEST(ExchangeTable, DecodeRestoresThePredeclaredExchangesWhenAbsent) {
  // Version 1, zero exchanges.
  const std::string encoded("\x01\x00\x00\x00\x00", 5);
  ExchangeTable table;
  ASSERT_TRUE(table.decode(encoded, true));
  for (const char* name : {"amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match"}) {
    EXPECT_TRUE(table.exists(name)) << name;
  }
}

TEST(ExchangeTable, DecodeRefusesEveryCutOfAValidEncodingAndKeepsTheTable) {
  const std::string encoded = populated().encode();
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    ExchangeTable table;
    declare(table, "before", settings(ExchangeType::kDirect));
    EXPECT_FALSE(table.decode(std::string_view(encoded).substr(0, cut), false)) << "cut at " << cut;
    EXPECT_TRUE(table.exists("before")) << "a failed decode changed the table; cut at " << cut;
    EXPECT_FALSE(table.exists("durable.topic")) << "cut at " << cut;
  }
}

TEST(ExchangeTable, DecodeRefusesGarbage) {
  ExchangeTable table;
  EXPECT_FALSE(table.decode("", false));
  EXPECT_FALSE(table.decode(std::string("\x02\x00\x00\x00\x00", 5), false)) << "unknown version";
  EXPECT_FALSE(table.decode(std::string("\x01\xFF\xFF\xFF\xFF", 5), false))
      << "4 billion exchanges, no bytes";
  // One exchange "x" of type 0 and then of type 5: no such types.
  for (char type : {'\x00', '\x05', '\xFF'}) {
    const std::string bad = std::string("\x01\x01\x00\x00\x00\x01\x00\x00\x00x", 10) + type + '\x01' +
                            std::string("\x00\x00\x00\x00", 4);
    EXPECT_FALSE(table.decode(bad, false)) << "type " << static_cast<int>(static_cast<uint8_t>(type));
  }
  // A name length far past the end.
  EXPECT_FALSE(table.decode(std::string("\x01\x01\x00\x00\x00\xFF\xFF\xFF\x7F"
                                        "abc",
                                        12),
                            false));
  uint32_t state = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string noise(1 + round % 64, '\0');
    for (char& byte : noise) {
      state = state * 1103515245 + 12345;
      byte = static_cast<char>(state >> 24);
    }
    noise[0] = '\x01';  // get past the version byte
    ExchangeTable scratch;
    const bool decoded = scratch.decode(noise, round % 2 == 0);
    if (decoded) {
      EXPECT_TRUE(scratch.exists("amq.direct"));
    }
  }
  EXPECT_TRUE(table.exists("amq.direct"));
}

}  // namespace
}  // namespace ballast::broker

#include "util/recent_events.h"

#include <gtest/gtest.h>

#include <thread>

namespace ballast::log {
namespace {

RecentEvent named(std::string name) {
  RecentEvent event;
  event.name = std::move(name);
  return event;
}

std::vector<std::string> names(const std::vector<RecentEvent>& events) {
  std::vector<std::string> result;
  for (const RecentEvent& event : events) result.push_back(event.name);
  return result;
}

TEST(RecentEventRing, ListsNewestFirstBeforeItIsFull) {
  RecentEventRing ring(4);
  EXPECT_TRUE(ring.newest_first().empty());
  ring.add(named("a"));
  ring.add(named("b"));
  EXPECT_EQ(names(ring.newest_first()), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ring.total_added(), 2u);
}

TEST(RecentEventRing, DropsTheOldestOnceFullAndKeepsTheLastCapacity) {
  RecentEventRing ring(3);
  for (const char* name : {"a", "b", "c", "d", "e", "f", "g"}) ring.add(named(name));
  EXPECT_EQ(names(ring.newest_first()), (std::vector<std::string>{"g", "f", "e"}));
  EXPECT_EQ(ring.total_added(), 7u);
  EXPECT_EQ(ring.capacity(), 3u);
}

TEST(RecentEventRing, KeepsEveryEventOfConcurrentWritersUpToItsCapacity) {
  RecentEventRing ring(50);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&ring, t] {
      for (int n = 0; n < kPerThread; ++n) ring.add(named(fmt::format("t{}-{}", t, n)));
    });
  }
  for (int n = 0; n < 100; ++n) EXPECT_LE(ring.newest_first().size(), 50u);
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(ring.total_added(), uint64_t{kThreads * kPerThread});
  const auto events = ring.newest_first();
  ASSERT_EQ(events.size(), 50u);
  // Each writer's own events stay in order, newest first.
  for (int t = 0; t < kThreads; ++t) {
    int last = kPerThread;
    const std::string prefix = fmt::format("t{}-", t);
    for (const RecentEvent& event : events) {
      if (event.name.rfind(prefix, 0) != 0) continue;
      const int n = std::stoi(event.name.substr(prefix.size()));
      EXPECT_LT(n, last) << event.name;
      last = n;
    }
  }
}

TEST(RecentFaultEvents, KeepsWarnAndErrorEventsWithTheirFieldsButNotInfo) {
  std::vector<std::string> lines;
  set_sink([&](std::string_view line) { lines.emplace_back(line); });
  const uint64_t before = recent_fault_events().total_added();
  event(Level::kInfo, "test.lifecycle", {kv("n", 1)});
  event(Level::kWarn, "test.degraded", {kv("path", "/var/lib/ballast"), kv("free_bytes", 42)});
  event(Level::kError, "test.failed", {kv("code", "STORAGE_FULL")});
  set_sink({});
  EXPECT_EQ(recent_fault_events().total_added(), before + 2);
  const auto events = recent_fault_events().newest_first();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].name, "test.failed");
  EXPECT_EQ(events[0].level, Level::kError);
  EXPECT_EQ(events[1].name, "test.degraded");
  EXPECT_EQ(events[1].level, Level::kWarn);
  ASSERT_EQ(events[1].fields.size(), 2u);
  EXPECT_EQ(events[1].fields[0], (std::pair<std::string, std::string>{"path", "/var/lib/ballast"}));
  EXPECT_EQ(events[1].fields[1], (std::pair<std::string, std::string>{"free_bytes", "42"}));
  // The kept time is the log line's ts=.
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[1].find("ts=" + events[1].time + " "), std::string::npos) << lines[1];
  EXPECT_GT(events[1].unix_ms, 1'600'000'000'000);
}

TEST(RecentFaultEvents, KeepsWarningsEvenWhenTheLogShowsOnlyErrors) {
  std::vector<std::string> lines;
  set_sink([&](std::string_view line) { lines.emplace_back(line); });
  set_min_level(Level::kError);
  event(Level::kWarn, "test.quiet_warning", {});
  set_min_level(Level::kInfo);
  set_sink({});
  EXPECT_TRUE(lines.empty());
  const auto events = recent_fault_events().newest_first();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].name, "test.quiet_warning");
}

}  // namespace
}  // namespace ballast::log

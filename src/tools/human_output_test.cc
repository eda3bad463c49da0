#include "tools/human_output.h"

#include <gtest/gtest.h>

namespace ballast::tools {
namespace {

using nlohmann::json;

TEST(HumanOutput, CellsShowNullAsDashAndRatesWithOneDecimal) {
  EXPECT_EQ(cell_text(json()), "-");
  EXPECT_EQ(cell_text(json("jobs")), "jobs");
  EXPECT_EQ(cell_text(json(12)), "12");
  EXPECT_EQ(cell_text(json(2.25)), "2.2");
  EXPECT_EQ(cell_text(json(true)), "true");
}

TEST(HumanOutput, QueueListIsAnAlignedTable) {
  const json answer = json::parse(R"({"queues": [
      {"name": "jobs", "vhost": "/", "messages": 12, "in_flight": 1, "delayed": 0, "bytes": 4096,
       "publish_rate": 1.5, "deliver_rate": 0.0, "ack_rate": 0.0, "settings": {}},
      {"name": "mail", "messages": 3}]})");
  EXPECT_EQ(render_queue_list(answer),
            "NAME  MESSAGES  IN_FLIGHT  DELAYED  BYTES  PUBLISH/S  DELIVER/S  ACK/S\n"
            "jobs        12          1        0   4096        1.5        0.0    0.0\n"
            "mail         3          -        -      -          -          -      -\n");
}

TEST(HumanOutput, QueueListWithoutQueuesIsJustTheHeader) {
  EXPECT_EQ(render_queue_list(json::object()).find('\n'), render_queue_list(json::object()).size() - 1);
}

TEST(HumanOutput, KeyValuesFlattenNestedObjects) {
  const json queue = {{"name", "jobs"}, {"settings", {{"max_length", nullptr}, {"overflow", "drop-head"}}}};
  EXPECT_EQ(render_key_values(queue),
            "KEY                  VALUE\n"
            "name                 jobs\n"
            "settings.max_length  -\n"
            "settings.overflow    drop-head\n");
}

TEST(HumanOutput, BodiesAreDecodedFromBase64) {
  EXPECT_EQ(message_body_text({{"body", "aGk="}, {"encoding", "base64"}}), "hi");
  EXPECT_EQ(message_body_text({{"body", "aGk="}, {"encoding", "utf8"}}), "aGk=");
  EXPECT_EQ(message_body_text({{"id", "no body"}}), "");
}

TEST(HumanOutput, ArrayFieldIsEmptyWhenAbsentOrNotAnArray) {
  EXPECT_TRUE(array_field(json::object(), "messages").empty());
  EXPECT_TRUE(array_field(json{{"messages", 3}}, "messages").empty());
  EXPECT_TRUE(array_field(json::array(), "messages").empty());
  EXPECT_EQ(array_field(json{{"messages", {1, 2}}}, "messages").size(), 2u);
}

}  // namespace
}  // namespace ballast::tools

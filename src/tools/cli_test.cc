#include "tools/cli.h"

#include <sstream>

#include <gtest/gtest.h>

#include "tools/loopback_http_server.h"
#include "tools/send_command.h"

namespace ballast::tools {
namespace {

using nlohmann::json;
using testing::CannedReply;
using testing::LoopbackHttpServer;
using testing::RecordedRequest;

struct CliRun {
  ExitCode code;
  std::string out;
  std::string err;
};

CliRun run(std::vector<std::string> args, const std::string& input = "",
           const CliEnvironment& environment = {}) {
  args.insert(args.begin(), "ballast");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  Console console{in, out, err};
  const ExitCode code = run_cli(static_cast<int>(argv.size()), argv.data(), environment, console);
  return CliRun{code, out.str(), err.str()};
}

// Answers like ballastd for the routes the tests use; records everything.
CannedReply fake_ballastd(const RecordedRequest& request) {
  const std::string route = request.method + " " + request.target;
  if (route.ends_with("/messages") && request.method == "POST") {
    json ids = json::array();
    for (size_t i = 0; i < json::parse(request.body)["messages"].size(); ++i) {
      ids.push_back({{"id", std::to_string(i)}, {"duplicate", false}});
    }
    return CannedReply{201, json{{"messages", ids}, {"durability", "fsync"}}.dump()};
  }
  if (route.ends_with("/receive")) {
    return CannedReply{200, R"({"messages":[
        {"id":"1","body":"hello","encoding":"utf8","receipt":"r1","delivery_count":1},
        {"id":"2","body":"Ynl0ZXM=","encoding":"base64","receipt":"r2","delivery_count":1}]})"};
  }
  if (route == "GET /api/v1/queues") {
    return CannedReply{200, R"({"queues":[{"name":"jobs","messages":2,"in_flight":0,
        "delayed":0,"bytes":10,"publish_rate":0.5,"deliver_rate":0.0,"ack_rate":0.0}]})"};
  }
  if (route == "GET /api/v1/queues/missing") {
    return CannedReply{404, R"({"error":{"code":"QUEUE_NOT_FOUND",
        "message":"queue \"missing\" (vhost \"/\") does not exist",
        "fix":"create it with ballast queue create missing"}})"};
  }
  if (request.method == "PUT") return CannedReply{201, R"({"created":true})"};
  return CannedReply{200, "{}"};
}

class CliAgainstLoopbackServer : public ::testing::Test {
 protected:
  CliRun ballast(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--server", server_.url()});
    return run(std::move(args), input);
  }
  std::vector<RecordedRequest> requests_to(const std::string& suffix) const {
    std::vector<RecordedRequest> matching;
    for (const auto& request : server_.requests()) {
      if (request.target.ends_with(suffix)) matching.push_back(request);
    }
    return matching;
  }

  LoopbackHttpServer server_{fake_ballastd};
};

TEST_F(CliAgainstLoopbackServer, SendsStdinOneLinePerMessageInBatchesOf500) {
  std::string input;
  for (int i = 0; i < 1201; ++i) input += "line " + std::to_string(i) + "\n";
  const auto result = ballast({"send", "jobs"}, input);
  ASSERT_EQ(result.code, ExitCode::kOk) << result.err;
  EXPECT_EQ(result.out, "sent 1201 messages to queue jobs (durability: fsync)\n");
  const auto posts = requests_to("/api/v1/queues/jobs/messages");
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(json::parse(posts[0].body)["messages"].size(), SendCommand::kMaxBatch);
  EXPECT_EQ(json::parse(posts[1].body)["messages"].size(), SendCommand::kMaxBatch);
  EXPECT_EQ(json::parse(posts[2].body)["messages"].size(), 201u);
  EXPECT_EQ(json::parse(posts[2].body)["messages"].back()["body"], "line 1200");
}

TEST_F(CliAgainstLoopbackServer, SendsTheBodyArgumentWithItsOptions) {
  const auto result = ballast(
      {"send", "jobs", "hi", "--header", "tenant=acme", "--priority", "5", "--id", "order-1", "--json"});
  ASSERT_EQ(result.code, ExitCode::kOk) << result.err;
  const auto posts = requests_to("/messages");
  ASSERT_EQ(posts.size(), 1u);
  const json expected = {
      {"body", "hi"}, {"headers", {{"tenant", "acme"}}}, {"id", "order-1"}, {"priority", 5}};
  EXPECT_EQ(json::parse(posts[0].body), (json{{"messages", {expected}}}));
  EXPECT_EQ(json::parse(result.out)["durability"], "fsync");
}

TEST_F(CliAgainstLoopbackServer, IdWithSeveralLinesIsAUsageErrorAndSendsNothing) {
  const auto result = ballast({"send", "jobs", "--id", "x"}, "a\nb\n");
  EXPECT_EQ(result.code, ExitCode::kUsage);
  EXPECT_NE(result.err.find("--id"), std::string::npos);
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CliAgainstLoopbackServer, ReceivePrintsBodiesOnePerLineThenAcksThem) {
  const auto result = ballast({"receive", "jobs", "--count", "2", "--wait", "1"});
  ASSERT_EQ(result.code, ExitCode::kOk) << result.err;
  EXPECT_EQ(result.out, "hello\nbytes\n");
  const auto receives = requests_to("/receive");
  ASSERT_EQ(receives.size(), 1u);
  EXPECT_EQ(json::parse(receives[0].body), (json{{"max", 2}, {"wait_seconds", 1}}));
  const auto acks = requests_to("/api/v1/queues/jobs/ack");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(json::parse(acks[0].body), (json{{"receipts", {"r1", "r2"}}}));
}

TEST_F(CliAgainstLoopbackServer, ReceiveWithNoAckLeavesMessagesLeased) {
  const auto result = ballast({"receive", "jobs", "--no-ack", "--json"});
  ASSERT_EQ(result.code, ExitCode::kOk) << result.err;
  std::istringstream lines(result.out);
  std::string line;
  std::vector<json> printed;
  while (std::getline(lines, line)) printed.push_back(json::parse(line));
  ASSERT_EQ(printed.size(), 2u);
  EXPECT_EQ(printed[1]["receipt"], "r2");
  EXPECT_TRUE(requests_to("/ack").empty());
}

TEST_F(CliAgainstLoopbackServer, QueueListIsATableAndJsonIsTheServersAnswer) {
  const auto human = ballast({"queue", "list"});
  ASSERT_EQ(human.code, ExitCode::kOk) << human.err;
  EXPECT_EQ(human.out,
            "NAME  MESSAGES  IN_FLIGHT  DELAYED  BYTES  PUBLISH/S  DELIVER/S  ACK/S\n"
            "jobs         2          0        0     10        0.5        0.0    0.0\n");
  const auto machine = ballast({"queue", "list", "--json"});
  EXPECT_EQ(json::parse(machine.out)["queues"][0]["name"], "jobs");
}

TEST_F(CliAgainstLoopbackServer, QueueCreateSendsOnlyTheGivenSettingsUnderApiNames) {
  const auto result = ballast({"--vhost", "eu", "queue", "create", "jobs", "--max-length", "010",
                               "--overflow", "drop-head", "--visibility-timeout-seconds", "30"});
  ASSERT_EQ(result.code, ExitCode::kOk) << result.err;
  EXPECT_EQ(result.out, "created queue jobs\n");
  const auto puts = requests_to("/api/v1/vhosts/eu/queues/jobs");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(
      json::parse(puts[0].body),
      (json{{"max_length", 10}, {"overflow", "drop-head"}, {"default_visibility_timeout_seconds", 30}}));
}

TEST_F(CliAgainstLoopbackServer, ServerRefusalExitsOneWithCodeMessageAndFix) {
  const auto result = ballast({"queue", "show", "missing"});
  EXPECT_EQ(result.code, ExitCode::kRefused);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "ballast: QUEUE_NOT_FOUND: queue \"missing\" (vhost \"/\") does not exist\n"
            "Fix: create it with ballast queue create missing\n");
}

TEST_F(CliAgainstLoopbackServer, ServerAddressComesFromTheEnvironmentWithoutServerFlag) {
  CliEnvironment environment;
  environment.server = server_.url();
  const auto result = run({"stats"}, "", environment);
  EXPECT_EQ(result.code, ExitCode::kOk) << result.err;
  EXPECT_EQ(requests_to("/api/v1/stats").size(), 1u);
}

TEST(Cli, UnreachableServerExitsThreeNamingTheUrl) {
  std::string url;
  {
    LoopbackHttpServer gone([](const RecordedRequest&) { return CannedReply{}; });
    url = gone.url();
  }
  const auto result = run({"--server", url, "stats"});
  EXPECT_EQ(result.code, ExitCode::kUnreachable);
  EXPECT_NE(result.err.find("ballast: SERVER_UNREACHABLE: cannot reach ballastd at " + url),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("Fix: is ballastd running?"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run({}).code, ExitCode::kUsage);
  EXPECT_EQ(run({"queue"}).code, ExitCode::kUsage);
  EXPECT_EQ(run({"receive", "q", "--count", "-1"}).code, ExitCode::kUsage);
  EXPECT_EQ(run({"queue", "create", "q", "--overflow", "sometimes"}).code, ExitCode::kUsage);
  EXPECT_EQ(run({"send", "q", "body", "--file", "f"}).code, ExitCode::kUsage);
  EXPECT_EQ(run({"--server", "https://h:1", "stats"}).code, ExitCode::kUsage);
  EXPECT_EQ(run({"send", "q", "x", "--header", "novalue"}).code, ExitCode::kUsage);
}

TEST(Cli, HelpDocumentsExitCodesAndVersionIsPrinted) {
  const auto help = run({"--help"});
  EXPECT_EQ(help.code, ExitCode::kOk);
  EXPECT_NE(help.out.find("3  cannot reach the server"), std::string::npos) << help.out;
  const auto version = run({"--version"});
  EXPECT_EQ(version.code, ExitCode::kOk);
  EXPECT_EQ(version.out, "ballast 0.1.0\n");
}

}  // namespace
}  // namespace ballast::tools

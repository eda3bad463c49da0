#include <gtest/gtest.h>

#include <sstream>

#include "broker/broker_test_support.h"
#include "protocol/http/http_server.h"
#include "tools/api_client.h"
#include "tools/commands.h"
#include "tools/table.h"

namespace ballast::tools {
namespace {

TEST(ServerUrl, ParsesHostAndPort) {
  auto url = parse_server_url("http://127.0.0.1:8080");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "8080");
  EXPECT_FALSE(parse_server_url("https://x:1").ok());
  EXPECT_FALSE(parse_server_url("127.0.0.1:8080").ok());
}

TEST(QueuePath, EncodesNamesAndVhosts) {
  EXPECT_EQ(queue_path("/", "a b", "messages"), "/api/v1/queues/a%20b/messages");
  EXPECT_EQ(queue_path("staging", "jobs"), "/api/v1/vhosts/staging/queues/jobs");
}

TEST(Table, PadsColumns) {
  Table table({"NAME", "N"});
  table.add({"jobs", "12"});
  EXPECT_EQ(table.render(), "NAME  N\njobs  12\n");
}

TEST(SplitLines, OneLineOneMessage) {
  EXPECT_EQ(split_lines("a\nb\r\n\nc"), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(split_lines("a\n"), std::vector<std::string>{"a"});
}

// The CLI against a real broker and HTTP server on 127.0.0.1 (port 0).
class CliAgainstServer : public ::testing::Test {
 protected:
  void SetUp() override {
    broker::BrokerOptions options;
    options.data_dir = (dir_.path() / "data").string();
    auto opened = broker::Broker::open(options);
    ASSERT_TRUE(opened.ok());
    broker_ = std::move(*opened);
    broker_->run();
    http::HttpServerOptions http_options;
    http_options.listen = "127.0.0.1:0";
    auto server = http::HttpServer::start(http_options, *broker_);
    ASSERT_TRUE(server.ok()) << server.error().describe();
    server_ = std::move(*server);
    server_url_ = "http://" + server_->bound_address();
  }
  void TearDown() override {
    server_->stop();
    broker_->stop();
  }

  int run(std::vector<std::string> args, const std::string& input, std::string& out, std::string& err) {
    args.insert(args.begin(), {"ballast", "--server", server_url_});
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    std::istringstream in(input);
    std::ostringstream out_stream, err_stream;
    const int code = run_cli(static_cast<int>(argv.size()), argv.data(), in, out_stream, err_stream);
    out = out_stream.str();
    err = err_stream.str();
    return code;
  }

  broker::testing::TempDir dir_;
  std::unique_ptr<broker::Broker> broker_;
  std::unique_ptr<http::HttpServer> server_;
  std::string server_url_;
};

TEST_F(CliAgainstServer, SendsLinesAndReceivesThem) {
  std::string out, err;
  ASSERT_EQ(run({"queue", "create", "mail"}, "", out, err), kExitOk) << err;
  ASSERT_EQ(run({"send", "mail"}, "one\ntwo\nthree\n", out, err), kExitOk) << err;
  EXPECT_NE(out.find("sent 3 messages"), std::string::npos) << out;
  ASSERT_EQ(run({"receive", "mail", "--count", "10"}, "", out, err), kExitOk) << err;
  EXPECT_EQ(out, "one\ntwo\nthree\n");
  ASSERT_EQ(run({"queue", "list"}, "", out, err), kExitOk);
  EXPECT_NE(out.find("mail"), std::string::npos);
}

TEST_F(CliAgainstServer, ExitCodesSayWhoFailed) {
  std::string out, err;
  EXPECT_EQ(run({"send", "nowhere", "x"}, "", out, err), kExitRefused);
  EXPECT_NE(err.find("QUEUE_NOT_FOUND"), std::string::npos) << err;
  EXPECT_NE(err.find("Fix:"), std::string::npos) << err;
  EXPECT_EQ(run({"bogus-command"}, "", out, err), kExitUsage);
  std::vector<std::string> args = {"ballast", "--server", "http://127.0.0.1:1", "stats"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  std::istringstream in;
  std::ostringstream out_stream, err_stream;
  EXPECT_EQ(run_cli(static_cast<int>(argv.size()), argv.data(), in, out_stream, err_stream), kExitUnreachable);
  EXPECT_NE(err_stream.str().find("SERVER_UNREACHABLE"), std::string::npos);
}

}  // namespace
}  // namespace ballast::tools

// The sans-I/O Connection over a real broker in a temporary directory. The test is the
// transport: it feeds client frames, reads the server's frames, and runs the broker's posted
// answers only when it chooses, so it can see what the connection sends before they arrive.
#include "protocol/amqp091/connection.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "broker/broker_test_support.h"
#include "protocol/amqp091/frame.h"
#include "protocol/amqp091/registry.h"
#include "storage/fault_file_system.h"

namespace ballast::amqp {
namespace {

using broker::testing::await_call;
using broker::testing::TempDir;

constexpr auto kDeadline = std::chrono::seconds(10);

// Keeps the broker's answers until the test runs them.
class TestTransport final : public ConnectionIo {
 public:
  Poster poster() override {
    return [this](std::function<void()> task) {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
      posted_.notify_one();
    };
  }
  void output_ready() override {}
  void close_after_output() override {}
  void input_wanted() override {}

  // Runs posted answers until `done()` holds; false after kDeadline.
  template <typename Done>
  bool run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
      std::unique_lock lock(mu_);
      if (!posted_.wait_until(lock, deadline, [&] { return !tasks_.empty(); })) return done();
      std::deque<std::function<void()>> ready;
      ready.swap(tasks_);
      lock.unlock();
      for (auto& task : ready) task();
    }
    return true;
  }

  // Runs the answers posted so far, waiting for one if there is none yet; false after kDeadline.
  bool run_posted() {
    if (!await_posted()) return false;
    std::deque<std::function<void()>> ready;
    {
      std::lock_guard lock(mu_);
      ready.swap(tasks_);
    }
    for (auto& task : ready) task();
    return true;
  }

  // Waits until the broker has posted an answer, without running it; false after kDeadline.
  bool await_posted() {
    std::unique_lock lock(mu_);
    return posted_.wait_until(lock, std::chrono::steady_clock::now() + kDeadline,
                              [&] { return !tasks_.empty(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable posted_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
};

struct Received {
  uint16_t channel = 0;
  Method method;
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker::BrokerOptions options;
    options.data_dir = (dir_.path() / "data").string();
    options.segment_bytes = 1 << 20;
    options.checkpoint_interval_ms = 3'600'000;
    options.self_check_interval_ms = 0;  // no probe writes to take the planned fault
    options.file_system = &faults_;
    broker_ = std::make_unique<broker::BrokerCore>(options, nullptr,
                                                   std::make_unique<broker::testing::ManualClock>());
    auto opened = broker_->open();
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    broker_->run();
    connection_ = std::make_shared<Connection>(*broker_, registry_, transport_, AmqpOptions{}, "test");
  }

  void TearDown() override {
    connection_->on_transport_closed();
    connection_.reset();
    broker_.reset();  // answers still posted find the connection gone
  }

  template <typename M>
  void send(uint16_t channel, const M& method) {
    std::string out;
    write_method(out, channel, method);
    connection_->on_bytes(out);
  }

  // Cuts the server's output into methods (content frames are skipped).
  void read_output() {
    output_.append(connection_->outbox());
    connection_->outbox().clear();
    std::string_view rest(output_);
    Frame frame;
    size_t consumed = 0;
    while (next_frame(rest, 131072, frame, consumed) == FrameParse::kFrame) {
      if (frame.type == static_cast<uint8_t>(FrameType::kMethod)) {
        MethodId id;
        bool unknown = false;
        auto method = decode_method(frame.payload, id, unknown);
        EXPECT_TRUE(method.has_value()) << "the server wrote a method that does not decode";
        if (method) received_.push_back({frame.channel, std::move(*method)});
      }
      rest.remove_prefix(consumed);
    }
    output_.erase(0, output_.size() - rest.size());
  }

  template <typename M>
  const M* find_received(uint16_t channel) {
    read_output();
    for (const Received& received : received_) {
      if (received.channel == channel && std::holds_alternative<M>(received.method)) {
        return &std::get<M>(received.method);
      }
    }
    return nullptr;
  }

  // Runs broker answers until the server has sent an M on `channel`.
  template <typename M>
  const M* await_received(uint16_t channel) {
    transport_.run_until([&] { return find_received<M>(channel) != nullptr; });
    const M* found = find_received<M>(channel);
    EXPECT_NE(found, nullptr) << "no " << M::kName << " on channel " << channel << " within the deadline";
    return found;
  }

  void open_channel_one() {
    connection_->on_bytes(kProtocolHeader);
    ASSERT_NE(find_received<ConnectionStart>(0), nullptr);
    ConnectionStartOk start_ok;
    start_ok.response = std::string("\0guest\0guest", 12);
    send(0, start_ok);
    ASSERT_NE(find_received<ConnectionTune>(0), nullptr);
    send(0, ConnectionTuneOk{2047, 131072, 0});
    send(0, ConnectionOpen{});
    ASSERT_NE(find_received<ConnectionOpenOk>(0), nullptr);
    send(1, ChannelOpen{});
    ASSERT_NE(find_received<ChannelOpenOk>(1), nullptr);
  }

  void create_queue_with(const std::string& name, const std::string& body) {
    auto created = await_call<broker::CreateQueueOutcome>(
        [&](auto done) { broker_->create_queue("/", name, broker::QueueSettings{}, done); });
    ASSERT_TRUE(created.ok()) << created.error().describe();
    broker::PublishRequest request;
    request.body = body;
    auto published =
        await_call<broker::PublishOutcome>([&](auto done) { broker_->publish("/", name, {request}, done); });
    ASSERT_TRUE(published.ok()) << published.error().describe();
  }

  broker::QueueStats stats(const std::string& name) {
    auto info = await_call<broker::QueueInfo>([&](auto done) { broker_->queue_info("/", name, done); });
    EXPECT_TRUE(info.ok());
    return info.ok() ? info->stats : broker::QueueStats{};
  }

  // basic.get on channel 1 without auto-ack; the delivery tag.
  uint64_t get_one(const std::string& queue) {
    BasicGet get;
    get.queue = queue;
    send(1, get);
    const BasicGetOk* ok = await_received<BasicGetOk>(1);
    return ok != nullptr ? ok->delivery_tag : 0;
  }

  // Queue "jobs" with one message, delivered by basic.get on channel 1, then tx.select; the
  // delivery tag (0 and a test failure if a step did not happen).
  uint64_t transaction_with_one_delivery() {
    create_queue_with("jobs", "work");
    open_channel_one();
    const uint64_t tag = get_one("jobs");
    send(1, TxSelect{});
    EXPECT_NE(find_received<TxSelectOk>(1), nullptr);
    return tag;
  }

  TempDir dir_;
  storage::FaultFileSystem faults_;
  std::unique_ptr<broker::BrokerCore> broker_;
  Registry registry_;
  TestTransport transport_;
  std::shared_ptr<Connection> connection_;
  std::string output_;
  std::vector<Received> received_;
};

TEST_F(ConnectionTest, TxCommitOkWaitsUntilTheAcksInTheTransactionAreDurable) {
  const uint64_t tag = transaction_with_one_delivery();
  ASSERT_NE(tag, 0u);
  send(1, BasicAck{tag, false});
  send(1, TxCommit{});
  EXPECT_EQ(find_received<TxCommitOk>(1), nullptr) << "commit-ok before the broker answered the ack";
  ASSERT_NE(await_received<TxCommitOk>(1), nullptr);
  // The answer that released commit-ok came after the settle record's fsync: the message is gone.
  const broker::QueueStats after = stats("jobs");
  EXPECT_EQ(after.messages, 0u);
  EXPECT_EQ(after.in_flight, 0u);
}

TEST_F(ConnectionTest, TxCommitOkWaitsForNacksAndRejectsToo) {
  const uint64_t tag = transaction_with_one_delivery();
  ASSERT_NE(tag, 0u);
  send(1, BasicReject{tag, true});
  send(1, TxCommit{});
  EXPECT_EQ(find_received<TxCommitOk>(1), nullptr) << "commit-ok before the broker answered the reject";
  ASSERT_NE(await_received<TxCommitOk>(1), nullptr);
  EXPECT_EQ(stats("jobs").messages, 1u) << "the requeued message is back once commit-ok is sent";
}

TEST_F(ConnectionTest, AnAckThatCannotBeMadeDurableFailsTheCommitWithTheBallastCode) {
  const uint64_t tag = transaction_with_one_delivery();
  ASSERT_NE(tag, 0u);
  faults_.fail_next_call(storage::FaultOp::kSync, EIO);
  send(1, BasicAck{tag, false});
  send(1, TxCommit{});
  const ChannelClose* close = await_received<ChannelClose>(1);
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(find_received<TxCommitOk>(1), nullptr);
  EXPECT_EQ(close->class_id, TxCommit::kClassId);
  EXPECT_EQ(close->method_id, TxCommit::kMethodId);
  EXPECT_NE(close->reply_text.find("STORAGE_IO_ERROR"), std::string::npos) << close->reply_text;
  EXPECT_NE(close->reply_text.find("jobs"), std::string::npos) << close->reply_text;
}

TEST_F(ConnectionTest, CloseOkWaitsForTheDeliveriesOfAPollOutWhenItsConsumerWasCancelled) {
  // pika's channel.close() sends basic.cancel first: the consumer's poll may already be
  // answered with deliveries the connection has not seen. They go back to the queue before
  // close-ok, so that a passive declare right after it counts them.
  create_queue_with("jobs", "work");
  open_channel_one();
  BasicConsume consume;
  consume.queue = "jobs";
  consume.consumer_tag = "worker";
  send(1, consume);
  ASSERT_NE(await_received<BasicConsumeOk>(1), nullptr);
  ASSERT_TRUE(transport_.await_posted()) << "the broker did not answer the consumer's poll";
  send(1, BasicCancel{"worker", false});
  send(1, ChannelClose{200, "bye", 0, 0});
  EXPECT_EQ(find_received<ChannelCloseOk>(1), nullptr) << "close-ok before the poll's delivery was back";
  ASSERT_NE(await_received<ChannelCloseOk>(1), nullptr);
  EXPECT_EQ(find_received<BasicDeliver>(1), nullptr) << "delivered on a cancelled consumer";
  const broker::QueueStats after = stats("jobs");
  EXPECT_EQ(after.messages, 1u);
  EXPECT_EQ(after.in_flight, 0u);
}

TEST_F(ConnectionTest, ConnectionCloseOkWaitsUntilPublishesWithoutConfirmsAreStored) {
  // amqp-publish sends basic.publish then connection.close: a basic.get on another connection
  // after close-ok must find the message.
  create_queue_with("jobs", "first");
  open_channel_one();
  BasicPublish publish;
  publish.routing_key = "jobs";
  std::string out;
  write_method(out, 1, publish);
  write_content(out, 1, std::string(2, '\0'), "second", 131072);
  write_method(out, 0, ConnectionClose{200, "bye", 0, 0});
  connection_->on_bytes(out);
  EXPECT_EQ(find_received<ConnectionCloseOk>(0), nullptr) << "close-ok before the publish was stored";
  ASSERT_NE(await_received<ConnectionCloseOk>(0), nullptr);
  EXPECT_EQ(stats("jobs").messages, 2u);
}

TEST_F(ConnectionTest, ConnectionCloseCrossingAServerChannelCloseStillGetsCloseOk) {
  // A bad ack closes the channel from the server side while its consumer's poll is out; the
  // client's connection.close crosses that channel.close. The poll's answer must still be
  // counted, or close-ok would never come.
  create_queue_with("jobs", "work");
  open_channel_one();
  ASSERT_NE(get_one("jobs"), 0u);  // the queue is now empty: the consumer's poll waits
  BasicConsume consume;
  consume.queue = "jobs";
  consume.consumer_tag = "worker";
  send(1, consume);
  ASSERT_NE(await_received<BasicConsumeOk>(1), nullptr);
  send(1, BasicAck{99, false});
  ASSERT_NE(find_received<ChannelClose>(1), nullptr) << "an unknown delivery tag closes the channel";
  ASSERT_TRUE(transport_.run_posted()) << "the cancelled poll was not answered";  // before the client's close
  send(0, ConnectionClose{200, "bye", 0, 0});
  ASSERT_NE(await_received<ConnectionCloseOk>(0), nullptr);
  EXPECT_EQ(stats("jobs").messages, 1u) << "the unacked basic.get delivery is back";
}

TEST_F(ConnectionTest, AnEmptyTransactionCommitsAtOnce) {
  open_channel_one();
  send(1, TxSelect{});
  send(1, TxCommit{});
  EXPECT_NE(find_received<TxCommitOk>(1), nullptr);
}

}  // namespace
}  // namespace ballast::amqp

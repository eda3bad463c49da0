#pragma once
// One AMQP 0-9-1 connection: the protocol state machine (handshake, channels, content
// assembly, consumers, confirms, transactions) between a byte stream and the Broker.
// It does no I/O itself: the transport feeds it bytes and timer ticks and writes what it puts
// in outbox(); broker answers come back through ConnectionIo::post.
//
// Threading: every method runs on the connection's transport thread (all AMQP connections
// share one I/O thread, so the Registry needs no lock). Broker callbacks arrive on the broker
// thread and only post; they hold a weak_ptr, so a connection that has gone is never touched.
//
// Ordering: a synchronous method that needs the broker (declare, delete, purge, get...) pauses
// reading this connection until it is answered, and publishes and acks read before it are
// handed to the broker first, so the broker sees every channel's work in the order it was sent.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "protocol/amqp091/frame.h"
#include "protocol/amqp091/methods.h"
#include "protocol/amqp091/registry.h"
#include "util/result.h"

namespace ballast::amqp {

struct AmqpOptions {
  uint16_t heartbeat_seconds = 60;  // amqp.heartbeat_seconds: proposed in connection.tune
  uint32_t frame_max = 131072;      // amqp.frame_max
  uint16_t channel_max = 2047;      // amqp.channel_max
  std::string user = "guest";       // the one account until the security issue lands
  std::string password = "guest";
  uint32_t publish_timeout_ms = 30000;  // amqp.publish_timeout_ms: a confirm not durable by then is nacked
  uint64_t max_message_bytes =
      16ull << 20;  // limits.max_message_bytes: a larger body is refused at its header
};

// What the transport offers the connection.
class ConnectionIo {
 public:
  virtual ~ConnectionIo() = default;
  using Poster = std::function<void(std::function<void()>)>;
  // Runs tasks on the connection's thread; callable from any thread, and valid for as long as
  // the server exists (it may outlive this ConnectionIo).
  virtual Poster poster() = 0;
  // outbox() has bytes to send.
  virtual void output_ready() = 0;
  // Close the socket once the outbox has been written.
  virtual void close_after_output() = 0;
  // The connection can take input again (after wants_input() was false).
  virtual void input_wanted() = 0;
};

// A reply text cut to a shortstr's 255 bytes (at a UTF-8 character boundary).
std::string clip_reply(std::string text);
// An R1 reply text for `error` that fits a shortstr: "<prefix>CODE: message Fix: fix".
std::string r1_reply_text(std::string_view prefix, const Error& error);
int64_t steady_now_ms();
// A delete_queue callback that logs a failure (amqp.queue_delete_failed) naming the queue.
broker::Callback<void> log_failed_delete(std::string queue, std::string_view why);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static constexpr size_t kMaxInboxBytes = 8u << 20;
  static constexpr size_t kMaxOutboxBytes = 32u << 20;
  static constexpr size_t kMaxTxPublishes = 100000;
  static constexpr int64_t kHandshakeTimeoutMs = 10000;
  Connection(broker::Broker& broker, Registry& registry, ConnectionIo& io, AmqpOptions options,
             std::string peer);
  ~Connection();

  // Bytes read from the socket.
  void on_bytes(std::string_view bytes);
  // Called about once a second: heartbeats sent and enforced.
  void on_timer(int64_t now_ms);
  // The transport wrote everything in the outbox.
  void on_output_drained();
  // The socket is gone (EOF, error, or after close_after_output): unacked deliveries are
  // returned to their queues, exclusive queues deleted, waiting polls cancelled.
  void on_transport_closed();

  std::string& outbox() { return outbox_; }
  // False while the connection holds as much unread input or unsent output as it may: the
  // transport stops reading until input_wanted(). Bounds what one client can make it buffer.
  bool wants_input() const { return inbox_.size() < kMaxInboxBytes && outbox_.size() < kMaxOutboxBytes; }
  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  // The user and virtual host the client logged in to (empty / "/" before connection.open).
  const std::string& user() const { return user_; }
  const std::string& vhost() const { return vhost_; }
  // Whether the client was sent connection.blocked and not yet connection.unblocked.
  bool blocked() const { return blocked_; }

  // Publishing is refused broker-wide (storage full or unwritable, a limit): connection.blocked
  // with the reason; nullopt = connection.unblocked. Sent only to clients that asked for it.
  void set_blocked(const std::optional<Error>& reason);

  // From the Registry: the queue this consumer reads was deleted (server-sent basic.cancel).
  void cancel_consumer_for_deleted_queue(uint16_t channel, const std::string& tag);

 private:
  enum class State { kAwaitHeader, kAwaitStartOk, kAwaitTuneOk, kAwaitOpen, kOpen, kClosing, kClosed };

  // Where deliveries came from; one is shared by every unacked delivery of a consumer (or of a
  // basic.get), so that a delivery costs no string copies.
  struct DeliverySource {
    std::string queue;
    std::string consumer_tag;  // empty for basic.get
  };
  struct Unacked {
    std::shared_ptr<const DeliverySource> source;
    broker::LeaseRef lease;
  };
  struct Consumer {
    std::string tag;
    std::string queue;
    std::shared_ptr<const DeliverySource> source;
    bool no_ack = false;
    bool exclusive = false;
    bool auto_delete_queue = false;
    uint64_t waiter_id = 0;
    bool polling = false;
    uint32_t unacked = 0;
  };
  struct PendingContent {
    BasicPublish method;
    bool have_header = false;
    uint64_t body_size = 0;
    std::string properties;  // raw flags + list
    std::string body;
  };
  // A channel number is reused after channel.close; answers that arrive later name the
  // channel's incarnation too, so they never reach a newer channel with the same number.
  struct ChannelRef {
    uint16_t id = 0;
    uint64_t incarnation = 0;
  };
  struct OutgoingPublish {
    ChannelRef channel;
    uint64_t confirm_seq = 0;  // 0 = not in confirm mode
    BasicPublish method;
    broker::PublishRequest request;
  };
  enum class Outcome : uint8_t { kAck, kNackRequeue, kNackDiscard };
  struct Settlement {
    uint64_t delivery_tag = 0;
    bool multiple = false;
    Outcome outcome = Outcome::kAck;
  };
  // A tx.commit waiting for the broker: commit-ok (or the channel error with the first
  // failure) is sent once every call it made has been answered (guard + one per call).
  struct TxCommitWait {
    ChannelRef channel;
    size_t outstanding = 1;  // the guard, dropped when every call has been made
    std::optional<Error> failure;
  };
  using TxWaitPtr = std::shared_ptr<TxCommitWait>;
  struct Channel {
    uint16_t id = 0;
    uint64_t incarnation = 0;
    bool closing = false;  // we sent channel.close and await close-ok
    std::optional<PendingContent> content;
    bool confirm_mode = false;
    uint64_t next_publish_seq = 1;
    std::map<uint64_t, int64_t> unconfirmed;  // publish seq -> when it is nacked unless durable
    bool tx_mode = false;
    std::vector<OutgoingPublish> tx_publishes;
    std::vector<Settlement> tx_settlements;  // acks, nacks and rejects, applied at tx.commit
    uint16_t prefetch_per_consumer = 0;      // 0 = unlimited
    uint16_t prefetch_per_channel = 0;
    uint64_t next_delivery_tag = 1;
    std::map<uint64_t, Unacked> unacked;
    std::map<std::string, Consumer> consumers;
    bool flow_active = true;
    // Broker polls of this channel's consumers not yet answered (also of consumers cancelled
    // since: their deliveries go back to the queue when they arrive).
    uint32_t polls_out = 0;
    bool close_ok_pending = false;  // channel.close received; close-ok once polls_out is 0
  };

  // Input.
  void process_input();
  void read_frames();
  bool handle_frame(const Frame& frame);
  bool handle_connection_method(const Method& method, MethodId id);
  void finish_client_close();
  // Sends connection.close-ok if it is pending and nothing it waits for is still out.
  void maybe_finish_client_close();
  // The channel a poll was issued for, closing or not; null once it is gone.
  Channel* poll_owner(ChannelRef ref);
  bool handle_channel_frame(const Frame& frame);
  bool handle_channel_method(Channel& channel, Method& method, MethodId id);
  bool handle_content_header(Channel& channel, std::string_view payload);
  bool handle_content_body(Channel& channel, std::string_view payload);
  void complete_publish(Channel& channel);

  // Connection-level handshake.
  void send_start();
  bool handle_start_ok(const ConnectionStartOk& start_ok);
  bool check_credentials(const ConnectionStartOk& start_ok) const;

  // Channel methods (connection_queue.cc, connection_basic.cc).
  void queue_declare(Channel& channel, const QueueDeclare& method);
  void queue_delete(Channel& channel, const QueueDelete& method);
  void queue_purge(Channel& channel, const QueuePurge& method);
  void queue_bind(Channel& channel, const QueueBind& method, bool unbind);
  void exchange_declare(Channel& channel, const ExchangeDeclare& method);
  void exchange_delete(Channel& channel, const ExchangeDelete& method);
  void basic_consume(Channel& channel, const BasicConsume& method);
  void basic_cancel(Channel& channel, const std::string& tag, bool nowait);
  void basic_get(Channel& channel, const BasicGet& method);
  void receive_one(ChannelRef channel, const BasicGet& method, uint64_t ready_before);
  void finish_get(ChannelRef channel, const BasicGet& method, broker::DeliveredMessage& message,
                  uint64_t remaining);
  // basic.ack / nack / reject: applied now, or at tx.commit on a transactional channel.
  void basic_settle(Channel& channel, Settlement settlement, MethodId id);
  // Applies one settlement; false (and a channel error naming the tag) for an unknown tag.
  // With `tx`, the broker's answers count towards that commit (connection_tx.cc).
  bool apply_settlement(Channel& channel, const Settlement& settlement, MethodId id,
                        const TxWaitPtr& tx = nullptr);
  // RECEIPT_INVALID for the first settlement whose tag is unknown, checked before any is
  // applied (tx atomicity).
  std::optional<Error> unknown_tag(const Channel& channel, const std::vector<Settlement>& settlements) const;
  // basic.recover: every unacked delivery goes back to its queue, whatever `requeue` says
  // (RabbitMQ does the same; docs/amqp.md).
  void basic_recover(Channel& channel);
  // Transactions (connection_tx.cc). tx.commit-ok follows the commit of the transaction's
  // publishes and of every ack, nack and reject in it.
  void tx_commit(Channel& channel);
  void tx_publish(const TxWaitPtr& tx, std::vector<OutgoingPublish> batch);
  void tx_published(const TxWaitPtr& tx, std::vector<OutgoingPublish>& batch,
                    Result<std::vector<broker::RouteResult>> result);
  // One broker answer for `tx` (null: none) arrived; the last one finishes the commit.
  void tx_answered(const TxWaitPtr& tx, std::optional<Error> failure);
  // The answer to a settlement: counted towards `tx`, or (without one) logged if it failed.
  broker::Callback<broker::SettleOutcome> settle_answer(std::string queue, std::string_view what,
                                                        TxWaitPtr tx);

  // Consumers.
  uint32_t consumer_credit(const Channel& channel, const Consumer& consumer) const;
  void pump(Channel& channel, Consumer& consumer);
  void pump_all();
  void on_delivered(ChannelRef channel, const std::string& tag, const std::string& queue,
                    Result<std::vector<broker::DeliveredMessage>> result);
  void deliver(Channel& channel, Consumer& consumer, broker::DeliveredMessage& message);
  std::vector<Unacked> take_unacked(Channel& channel, uint64_t tag, bool multiple, bool& known);
  void settle(std::vector<Unacked> settled, Outcome outcome, const TxWaitPtr& tx = nullptr);
  void release_channel(Channel& channel);

  // Publishing (batched per input pass).
  void queue_publish(OutgoingPublish publish);
  void flush_publishes();
  // The broker's view of `batch`; moves the content out of all but mandatory publishes.
  static std::vector<broker::RoutedMessage> routed_messages(std::vector<OutgoingPublish>& batch);
  void flush_acks(const TxWaitPtr& tx = nullptr);
  void on_published(std::vector<OutgoingPublish>& batch, Result<std::vector<broker::RouteResult>> result);
  void confirm(Channel& channel, std::vector<uint64_t> seqs, bool ack);
  // Nacks confirm-mode publishes that are still not durable after amqp.publish_timeout_ms.
  void expire_unconfirmed(int64_t now_ms);

  // RESOURCE_LOCKED (and true) when `queue` is exclusive to another connection.
  bool refuse_if_exclusive_elsewhere(Channel& channel, const std::string& queue, MethodId id);
  // Deletes an auto-delete queue whose last consumer has gone.
  void remove_consumer(Channel& channel, Consumer& consumer);

  // Errors and replies.
  void pause() { paused_ = true; }
  void resume();
  void channel_error(uint16_t channel, const Error& error, MethodId id);
  void channel_error(uint16_t channel, int reply_code, std::string text, MethodId id);
  void connection_error(int reply_code, std::string text, MethodId id = {});
  void fatal_frame_error(std::string text);
  template <typename M>
  void send(uint16_t channel, const M& method) {
    write_method(outbox_, channel, method);
  }
  Channel* find_channel(uint16_t id);
  // The channel if it is still the incarnation `ref` names and not closing.
  Channel* find_channel(ChannelRef ref);
  static ChannelRef ref(const Channel& channel) { return {channel.id, channel.incarnation}; }
  void flush_output();

  // Runs `then` with the broker's answer on this connection's thread, if it still exists.
  template <typename T, typename F>
  broker::Callback<T> on_answer(F then) {
    std::weak_ptr<Connection> weak = weak_from_this();
    return [weak, post = post_, then = std::move(then)](Result<T> result) mutable {
      post([weak, then = std::move(then), result = std::move(result)]() mutable {
        if (auto self = weak.lock()) {
          then(*self, std::move(result));
          self->flush_output();
        }
      });
    };
  }

  // Like on_answer, for deliveries: if the connection is gone by the time they arrive, they are
  // returned to `queue` (their leases never expire on their own).
  template <typename F>
  broker::Callback<std::vector<broker::DeliveredMessage>> on_deliveries(std::string queue, F then) {
    std::weak_ptr<Connection> weak = weak_from_this();
    return [weak, post = post_, broker = &broker_, vhost = vhost_, queue = std::move(queue),
            then = std::move(then)](Result<std::vector<broker::DeliveredMessage>> result) mutable {
      post([weak, broker, vhost, queue, then = std::move(then), result = std::move(result)]() mutable {
        if (auto self = weak.lock()) {
          then(*self, std::move(result));
          self->flush_output();
        } else if (result) {
          return_deliveries(*broker, vhost, queue, *result);
        }
      });
    };
  }
  // Nacks with requeue: the messages go back to `queue`, flagged redelivered.
  static void return_deliveries(broker::Broker& broker, const std::string& vhost, const std::string& queue,
                                std::vector<broker::DeliveredMessage>& messages);

  broker::Broker& broker_;
  Registry& registry_;
  ConnectionIo& io_;
  const ConnectionIo::Poster post_;
  const AmqpOptions options_;
  const std::string peer_;
  const uint64_t id_;
  State state_ = State::kAwaitHeader;
  std::string inbox_;
  std::string outbox_;
  bool paused_ = false;
  bool processing_ = false;
  std::string vhost_ = "/";
  std::string user_;
  uint16_t channel_max_ = 0;
  uint32_t frame_max_ = 0;
  uint16_t heartbeat_seconds_ = 0;
  int64_t last_received_ms_ = 0;
  int64_t closing_deadline_ms_ = 0;
  int64_t connected_at_ms_ = 0;
  int64_t last_sent_ms_ = 0;
  size_t outbox_at_last_tick_ = 0;
  bool client_wants_cancel_notify_ = false;
  // connection.close received: close-ok once every broker poll is answered (its deliveries back
  // in their queues) and every publish batch is stored, or after amqp.publish_timeout_ms.
  bool close_ok_pending_ = false;
  int64_t close_requested_ms_ = 0;
  uint32_t polls_out_ = 0;
  uint32_t publish_batches_in_flight_ = 0;
  bool client_wants_blocked_notify_ = false;
  bool blocked_ = false;
  std::map<uint16_t, Channel> channels_;
  uint64_t last_incarnation_ = 0;
  std::vector<OutgoingPublish> pending_publishes_;
  std::map<std::string, std::vector<broker::LeaseRef>> pending_acks_;  // queue -> leases
  std::set<std::string> exclusive_queues_;
};

}  // namespace ballast::amqp

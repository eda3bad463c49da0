// AmqpServer on Boost.Asio: acceptors, one Session (socket + Connection) per client, a write
// queue per session and a one-second tick for heartbeats. Everything runs on one I/O thread.
#include "protocol/amqp091/amqp_server.h"

#include <atomic>
#include <chrono>
#include <list>
#include <thread>
#include <utility>

#include <boost/asio.hpp>

#include "fmt/format.h"
#include "protocol/net/listen_endpoint.h"
#include "util/log.h"

namespace ballast::amqp {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr size_t kReadChunk = 64 * 1024;
// How often idle queues are checked against their x-expires (a scan of the expiring queues).
constexpr auto kExpiryCheckInterval = std::chrono::milliseconds(50);

class Session final : public ConnectionIo, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, asio::io_context& io, net::BlockedPublishers& blocked_publishers)
      : socket_(std::move(socket)), io_(io), blocked_publishers_(blocked_publishers) {}

  void start(broker::Broker& broker, Registry& registry, const AmqpOptions& options) {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    socket_.set_option(tcp::no_delay(true), ec);
    connection_ = std::make_shared<Connection>(broker, registry, *this, options,
                                               ec ? std::string("unknown") : net::format_endpoint(remote));
    read();
  }

  Poster poster() override {
    return [io = &io_](std::function<void()> task) { asio::post(*io, std::move(task)); };
  }

  void output_ready() override {
    if (writing_ || closed_) return;
    write();
  }

  void close_after_output() override {
    close_requested_ = true;
    if (!writing_ && connection_->outbox().empty()) shutdown();
  }

  void tick(int64_t now_ms, const std::optional<Error>& publish_refusal) {
    if (closed_) return;
    connection_->set_blocked(publish_refusal);
    list_if_blocked(publish_refusal);
    connection_->on_timer(now_ms);
  }

  void shutdown() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    connection_->on_transport_closed();
    if (listed_blocked_) blocked_publishers_.remove("amqp", connection_->id());
  }

  bool closed() const { return closed_; }

  void input_wanted() override {
    if (!read_paused_ || closed_ || close_requested_) return;
    read_paused_ = false;
    read();
  }

 private:
  // Keeps the BlockedPublishers table in step with what the client was told.
  void list_if_blocked(const std::optional<Error>& publish_refusal) {
    const bool blocked = connection_->blocked() && publish_refusal.has_value();
    if (blocked == listed_blocked_) return;
    listed_blocked_ = blocked;
    if (!blocked) return blocked_publishers_.remove("amqp", connection_->id());
    net::BlockedPublisher publisher;
    publisher.connection_id = connection_->id();
    publisher.protocol = "amqp";
    publisher.peer = connection_->peer();
    publisher.user = connection_->user();
    publisher.vhost = connection_->vhost();
    publisher.since_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    publisher.code = publish_refusal->code();
    publisher.reason = r1_reply_text("", *publish_refusal);
    blocked_publishers_.add(std::move(publisher));
  }

  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(read_buffer_), [self](boost::system::error_code ec, size_t bytes) {
      if (ec || self->closed_) return self->shutdown();
      try {
        self->connection_->on_bytes(std::string_view(self->read_buffer_.data(), bytes));
      } catch (const std::bad_alloc&) {
        // Out of memory for this client's input: drop the client, keep the broker (R2).
        log::event(
            log::Level::kError, "amqp.out_of_memory",
            {log::kv("peer", self->connection_->peer()),
             log::kv("fix",
                     "give ballastd more memory, or lower amqp.frame_max / limits.max_message_bytes")});
        return self->shutdown();
      }
      if (self->closed_ || self->close_requested_) return;
      if (self->connection_->wants_input()) return self->read();
      self->read_paused_ = true;  // input_wanted() resumes
    });
  }

  void write() {
    writing_ = true;
    sending_.clear();
    std::swap(sending_, connection_->outbox());
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(sending_), [self](boost::system::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->shutdown();
      if (!self->connection_->outbox().empty()) return self->write();
      if (self->close_requested_) return self->shutdown();
      self->connection_->on_output_drained();
    });
  }

  tcp::socket socket_;
  asio::io_context& io_;
  net::BlockedPublishers& blocked_publishers_;
  bool listed_blocked_ = false;  // whether this connection is in blocked_publishers_
  std::shared_ptr<Connection> connection_;
  std::array<char, kReadChunk> read_buffer_{};
  std::string sending_;
  bool writing_ = false;
  bool close_requested_ = false;
  bool read_paused_ = false;
  bool closed_ = false;
};

class AsioAmqpServer final : public AmqpServer {
 public:
  AsioAmqpServer(const AmqpServerOptions& options, broker::Broker& broker,
                 net::BlockedPublishers& blocked_publishers)
      : options_(options),
        broker_(broker),
        blocked_publishers_(blocked_publishers),
        tick_timer_(io_),
        expiry_timer_(io_) {}
  ~AsioAmqpServer() override { stop(); }

  Status listen(const tcp::endpoint& endpoint, const std::string& text) {
    auto& acceptor = acceptors_.emplace_back(io_);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error(ErrorCode::kListenFailed,
                   fmt::format("cannot listen for AMQP on {}: {}", text, ec.message()),
                   "stop the process holding the port (ss -ltnp) or choose another with --amqp-listen");
    }
    bound_.push_back(net::format_endpoint(acceptor.local_endpoint(ec)));
    return ok_status();
  }

  void start_thread() {
    track_expiring_queues();
    for (auto& acceptor : acceptors_) accept(acceptor);
    schedule_tick();
    schedule_expiry_check();
    thread_ = std::thread([this] { io_.run(); });
    for (const std::string& address : bound_)
      log::event(log::Level::kInfo, "amqp.listening", {log::kv("address", address)});
  }

  std::vector<std::string> bound_addresses() const override { return bound_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      for (auto& acceptor : acceptors_) acceptor.close(ignored);
      tick_timer_.cancel();
      expiry_timer_.cancel();
      for (auto& weak : sessions_) {
        if (auto session = weak.lock()) session->shutdown();
      }
      sessions_.clear();
      io_.stop();
    });
    if (thread_.joinable()) thread_.join();
  }

 private:
  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([this, &acceptor](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        log::event(log::Level::kWarn, "amqp.accept_failed", {log::kv("error", ec.message())});
      } else {
        auto session = std::make_shared<Session>(std::move(socket), io_, blocked_publishers_);
        session->start(broker_, registry_, options_.connection);
        sessions_.push_back(session);
      }
      accept(acceptor);
    });
  }

  // Queues declared with x-expires before a restart: their clocks start again now.
  void track_expiring_queues() {
    broker_.list_queues("/", [this](Result<std::vector<broker::QueueInfo>> queues) {
      if (!queues) return;
      asio::post(io_, [this, queues = std::move(*queues)] {
        for (const broker::QueueInfo& queue : queues) {
          if (queue.settings.expires_ms) {
            registry_.track_expiry({queue.vhost, queue.name}, *queue.settings.expires_ms, steady_now_ms());
          }
        }
      });
    });
  }

  void delete_expired_queues(int64_t now) {
    for (const Registry::QueueKey& key : registry_.take_expired(now)) {
      log::event(log::Level::kInfo, "amqp.queue_expired",
                 {log::kv("vhost", key.first), log::kv("queue", key.second)});
      broker_.delete_queue(key.first, key.second, [key](Result<void> deleted) {
        if (!deleted) {
          log::event(log::Level::kWarn, "amqp.queue_expiry_failed",
                     {log::kv("queue", key.second), log::kv("code", deleted.error().code_name()),
                      log::kv("message", deleted.error().message())});
        }
      });
    }
  }

  // x-expires is in milliseconds: checked every kExpiryCheckInterval, not on the 1 s tick.
  void schedule_expiry_check() {
    expiry_timer_.expires_after(kExpiryCheckInterval);
    expiry_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      delete_expired_queues(steady_now_ms());
      schedule_expiry_check();
    });
  }

  void schedule_tick() {
    tick_timer_.expires_after(std::chrono::seconds(1));
    tick_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      const int64_t now = steady_now_ms();
      const std::optional<Error> refusal = broker_.health().publish_refusal;
      sessions_.remove_if([](const std::weak_ptr<Session>& weak) {
        auto session = weak.lock();
        return !session || session->closed();
      });
      for (auto& weak : sessions_) {
        if (auto session = weak.lock()) session->tick(now, refusal);
      }
      schedule_tick();
    });
  }

  AmqpServerOptions options_;
  broker::Broker& broker_;
  net::BlockedPublishers& blocked_publishers_;
  asio::io_context io_;
  std::list<tcp::acceptor> acceptors_;
  asio::steady_timer tick_timer_;
  asio::steady_timer expiry_timer_;
  Registry registry_;
  std::list<std::weak_ptr<Session>> sessions_;
  std::vector<std::string> bound_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<AmqpServer>> AmqpServer::start(const AmqpServerOptions& options,
                                                      broker::Broker& broker,
                                                      net::BlockedPublishers& blocked_publishers) {
  auto server = std::make_unique<AsioAmqpServer>(options, broker, blocked_publishers);
  for (const std::string& listen : options.listen) {
    auto endpoint = net::parse_listen_endpoint(listen, options.insecure_remote, "--amqp-listen");
    if (!endpoint) return std::move(endpoint).error();
    auto status = server->listen(*endpoint, listen);
    if (!status) return std::move(status).error();
  }
  server->start_thread();
  return std::unique_ptr<AmqpServer>(std::move(server));
}

}  // namespace ballast::amqp

#include "tools/loopback_http_server.h"

#include <mutex>
#include <thread>

#include "tools/asio.h"

namespace ballast::tools::testing {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct LoopbackHttpServer::State {
  explicit State(RequestHandler request_handler) : handler(std::move(request_handler)) {}

  struct Session {
    explicit Session(tcp::socket accepted, size_t number) : socket(std::move(accepted)), connection(number) {}
    tcp::socket socket;
    size_t connection;
    boost::beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> request;
    bhttp::response<bhttp::string_body> response;
  };

  void accept_next();
  void read_next(std::shared_ptr<Session> session);
  void answer(std::shared_ptr<Session> session);
  RecordedRequest record(const Session& session);

  RequestHandler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  const uint16_t port = acceptor.local_endpoint().port();
  std::thread thread;
  std::vector<std::shared_ptr<Session>> held;  // kNeverAnswer connections; server thread only
  mutable std::mutex mu;
  std::vector<RecordedRequest> requests;  // guarded by mu
  size_t connections = 0;                 // guarded by mu
};

void LoopbackHttpServer::State::accept_next() {
  acceptor.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    if (error) return;
    size_t number = 0;
    {
      std::lock_guard lock(mu);
      number = ++connections;
    }
    read_next(std::make_shared<Session>(std::move(socket), number));
    accept_next();
  });
}

void LoopbackHttpServer::State::read_next(std::shared_ptr<Session> session) {
  session->request = {};
  bhttp::async_read(session->socket, session->buffer, session->request,
                    [this, session](const boost::system::error_code& error, size_t) {
                      if (!error) answer(session);
                    });
}

RecordedRequest LoopbackHttpServer::State::record(const Session& session) {
  const auto& request = session.request;
  RecordedRequest recorded{std::string(request.method_string()), std::string(request.target()),
                           std::string(request[bhttp::field::content_type]), request.body(),
                           session.connection};
  std::lock_guard lock(mu);
  requests.push_back(recorded);
  return recorded;
}

void LoopbackHttpServer::State::answer(std::shared_ptr<Session> session) {
  const CannedReply reply = handler(record(*session));
  if (reply.mode == ReplyMode::kNeverAnswer) {
    held.push_back(std::move(session));
    return;
  }
  auto& response = session->response;
  response = {};
  response.version(11);
  response.result(static_cast<unsigned>(reply.status));
  response.set(bhttp::field::content_type, "application/json");
  response.keep_alive(reply.mode != ReplyMode::kClose);
  response.body() = reply.body;
  response.prepare_payload();
  bhttp::async_write(session->socket, response,
                     [this, session, mode = reply.mode](const boost::system::error_code& error, size_t) {
                       if (error) return;
                       if (mode == ReplyMode::kKeepAlive) return read_next(session);
                       boost::system::error_code ignored;
                       session->socket.close(ignored);
                     });
}

LoopbackHttpServer::LoopbackHttpServer(RequestHandler handler)
    : state_(std::make_unique<State>(std::move(handler))) {
  state_->accept_next();
  state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

LoopbackHttpServer::~LoopbackHttpServer() {
  state_->io.stop();
  state_->thread.join();
  state_->held.clear();
}

std::string LoopbackHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(state_->port);
}

std::vector<RecordedRequest> LoopbackHttpServer::requests() const {
  std::lock_guard lock(state_->mu);
  return state_->requests;
}

size_t LoopbackHttpServer::connections_accepted() const {
  std::lock_guard lock(state_->mu);
  return state_->connections;
}

}  // namespace ballast::tools::testing

#pragma once
// A real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for the CLI's tests: it records every
// request and answers each with what the test's handler returns, including misbehaviour (closing
// a kept-alive connection, never answering). No network is mocked.
// Thread-safe: the server runs on its own thread; requests() and connections_accepted() may be
// called from any thread. The handler runs on the server's thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ballast::tools::testing {

struct RecordedRequest {
  std::string method;        // "POST"
  std::string target;        // "/api/v1/queues/jobs/messages"
  std::string content_type;  // empty when absent
  std::string body;
  size_t connection = 0;  // 1 for the first connection accepted, 2 for the next, ...
};

enum class ReplyMode {
  kKeepAlive,       // answer and wait for the next request on the connection
  kClose,           // answer with "Connection: close" and close
  kAnswerThenDrop,  // answer as if keeping the connection alive, then close it anyway
  kNeverAnswer,     // hold the connection open without answering
};

struct CannedReply {
  int status = 200;
  std::string body;  // sent as application/json
  ReplyMode mode = ReplyMode::kKeepAlive;
};

using RequestHandler = std::function<CannedReply(const RecordedRequest& request)>;

class LoopbackHttpServer {
 public:
  // Listens and starts serving before returning.
  explicit LoopbackHttpServer(RequestHandler handler);
  // Stops the server thread and closes every connection.
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  // "http://127.0.0.1:PORT"
  std::string url() const;
  std::vector<RecordedRequest> requests() const;
  size_t connections_accepted() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ballast::tools::testing

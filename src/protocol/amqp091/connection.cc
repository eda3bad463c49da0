// Connection: framing, the connection handshake, channel dispatch, errors and heartbeats.
// Queue and exchange methods are in connection_queue.cc; basic.* in connection_basic.cc.
#include "protocol/amqp091/connection.h"

#include <algorithm>

#include "fmt/format.h"
#include "util/error_code.h"
#include "util/log.h"

namespace ballast::amqp {
namespace {

constexpr size_t kMaxReplyText = 255;
constexpr int64_t kCloseOkTimeoutMs = 3000;  // after connection.close, wait this long for close-ok
constexpr uint16_t kConnectionClassId = 10;

std::string_view reply_name(int code) {
  switch (code) {
    case 311:
      return "CONTENT_TOO_LARGE";
    case 312:
      return "NO_ROUTE";
    case 313:
      return "NO_CONSUMERS";
    case 320:
      return "CONNECTION_FORCED";
    case 402:
      return "INVALID_PATH";
    case 403:
      return "ACCESS_REFUSED";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "RESOURCE_LOCKED";
    case 406:
      return "PRECONDITION_FAILED";
    case 501:
      return "FRAME_ERROR";
    case 502:
      return "SYNTAX_ERROR";
    case 503:
      return "COMMAND_INVALID";
    case 504:
      return "CHANNEL_ERROR";
    case 505:
      return "UNEXPECTED_FRAME";
    case 506:
      return "RESOURCE_ERROR";
    case 530:
      return "NOT_ALLOWED";
    case 540:
      return "NOT_IMPLEMENTED";
    default:
      return "INTERNAL_ERROR";
  }
}

}  // namespace

std::string r1_reply_text(std::string_view prefix, const Error& error) {
  // "<prefix><CODE>: <message> Fix: <fix>", at most 255 bytes: the message is shortened first
  // (the fix is what the reader acts on), then the fix; but the message keeps at least its
  // first 120 bytes, which name the object at fault (R1), and a long fix is cut instead.
  constexpr size_t kMessageKept = 120;
  const std::string head = fmt::format("{}{}: ", prefix, error.code_name());
  const std::string tail = fmt::format(" Fix: {}", error.fix());
  std::string message = error.message();
  size_t room = kMaxReplyText > head.size() + tail.size() ? kMaxReplyText - head.size() - tail.size() : 0;
  room = std::max(room, std::min(message.size(), kMessageKept));
  if (message.size() > room) message = clip_reply(message.substr(0, room >= 3 ? room - 3 : 0)) + "...";
  return clip_reply(head + message + tail);
}

std::string clip_reply(std::string text) {
  if (text.size() > kMaxReplyText) text.resize(kMaxReplyText);
  while (!text.empty() && (static_cast<uint8_t>(text.back()) & 0xC0) == 0x80) text.pop_back();
  return text;
}

namespace {

FieldTable server_properties() {
  FieldEntries capabilities;
  for (const char* name : {"publisher_confirms", "basic.nack", "consumer_cancel_notify", "connection.blocked",
                           "authentication_failure_close", "per_consumer_qos"}) {
    capabilities.emplace_back(name, FieldValue{true});
  }
  FieldEntries properties;
  properties.emplace_back("product", FieldValue{std::string("Ballast")});
  properties.emplace_back("version", FieldValue{std::string(BALLAST_VERSION)});
  properties.emplace_back("platform", FieldValue{std::string("C++20")});
  properties.emplace_back("information", FieldValue{std::string("https://ballast.invalid/docs/amqp.md")});
  properties.emplace_back("capabilities", FieldValue{std::move(capabilities)});
  return encode_table(properties);
}

}  // namespace

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

bool capability(const FieldEntries& capabilities, std::string_view name) {
  const FieldValue* value = find_field(capabilities, name);
  return value != nullptr && std::get_if<bool>(&value->value) != nullptr && std::get<bool>(value->value);
}

}  // namespace

Connection::Connection(broker::Broker& broker, Registry& registry, ConnectionIo& io, AmqpOptions options,
                       std::string peer)
    : broker_(broker),
      registry_(registry),
      io_(io),
      post_(io.poster()),
      options_(std::move(options)),
      peer_(std::move(peer)),
      id_(registry.next_connection_id()) {
  last_received_ms_ = last_sent_ms_ = connected_at_ms_ = steady_now_ms();
}

Connection::~Connection() = default;

void Connection::on_bytes(std::string_view bytes) {
  if (state_ == State::kClosed) return;
  last_received_ms_ = steady_now_ms();
  inbox_.append(bytes);
  process_input();
  flush_output();
}

void Connection::process_input() {
  // A method handled below may answer at once and resume(): the loop then just goes on.
  if (processing_) return;
  processing_ = true;
  read_frames();
  processing_ = false;
  if (state_ == State::kOpen) {
    flush_publishes();
    flush_acks();
  }
}

void Connection::read_frames() {
  if (state_ == State::kAwaitHeader) {
    if (inbox_.size() < kProtocolHeader.size()) return;
    if (std::string_view(inbox_).substr(0, kProtocolHeader.size()) != kProtocolHeader) {
      // Spec 4.2.2: answer with the header we speak, then close.
      outbox_.append(kProtocolHeader);
      state_ = State::kClosed;
      log::event(log::Level::kWarn, "amqp.bad_protocol_header", {log::kv("peer", peer_)});
      io_.close_after_output();
      return;
    }
    inbox_.erase(0, kProtocolHeader.size());
    send_start();
  }
  size_t offset = 0;
  while (!paused_ && state_ != State::kClosed) {
    Frame frame;
    size_t consumed = 0;
    const uint32_t frame_max = frame_max_ != 0 ? frame_max_ : options_.frame_max;
    const FrameParse parsed = next_frame(std::string_view(inbox_).substr(offset), frame_max, frame, consumed);
    if (parsed == FrameParse::kNeedMore) break;
    if (parsed == FrameParse::kBadEnd) {
      return fatal_frame_error("FRAME_ERROR - a frame does not end with 0xCE");
    }
    if (parsed == FrameParse::kTooLarge) {
      return fatal_frame_error(
          fmt::format("FRAME_ERROR - a frame is larger than frame_max = {} bytes", frame_max));
    }
    offset += consumed;
    if (!handle_frame(frame)) break;
  }
  inbox_.erase(0, offset);
}

bool Connection::handle_frame(const Frame& frame) {
  if (state_ == State::kClosing) {
    // After connection.close only close / close-ok matter (spec 2.2.4).
    if (frame.type != static_cast<uint8_t>(FrameType::kMethod) || frame.channel != 0) return true;
  }
  switch (static_cast<FrameType>(frame.type)) {
    case FrameType::kHeartbeat:
      if (frame.channel != 0) {
        connection_error(501, "FRAME_ERROR - a heartbeat frame on a channel other than 0");
        return false;
      }
      return true;
    case FrameType::kMethod:
      if (frame.channel == 0) {
        MethodId id;
        bool unknown = false;
        auto method = decode_method(frame.payload, id, unknown);
        if (!method) {
          connection_error(
              unknown ? 540 : 502,
              unknown ? fmt::format("NOT_IMPLEMENTED - unknown method {}.{}", id.class_id, id.method_id)
                      : fmt::format("SYNTAX_ERROR - {} arguments do not parse",
                                    method_name(id.class_id, id.method_id)),
              id);
          return false;
        }
        return handle_connection_method(*method, id);
      }
      [[fallthrough]];
    case FrameType::kHeader:
    case FrameType::kBody:
      if (frame.channel == 0) {
        connection_error(504, "CHANNEL_ERROR - content frame on channel 0");
        return false;
      }
      if (state_ != State::kOpen) {
        connection_error(504, "CHANNEL_ERROR - channel frame before connection.open");
        return false;
      }
      return handle_channel_frame(frame);
    default:
      connection_error(501, fmt::format("FRAME_ERROR - unknown frame type {}", frame.type));
      return false;
  }
}

void Connection::send_start() {
  ConnectionStart start;
  start.server_properties = server_properties();
  start.mechanisms = "PLAIN AMQPLAIN";
  start.locales = "en_US";
  send(0, start);
  state_ = State::kAwaitStartOk;
}

bool Connection::check_credentials(const ConnectionStartOk& start_ok) const {
  std::string user, password;
  if (start_ok.mechanism == "PLAIN") {
    // authzid \0 authcid \0 password
    const std::string& response = start_ok.response;
    const size_t first = response.find('\0');
    const size_t second = first == std::string::npos ? first : response.find('\0', first + 1);
    if (second == std::string::npos) return false;
    user = response.substr(first + 1, second - first - 1);
    password = response.substr(second + 1);
  } else if (start_ok.mechanism == "AMQPLAIN") {
    // A field table without its length: LOGIN and PASSWORD.
    FieldEntries entries;
    if (!parse_table(start_ok.response, entries)) return false;
    const FieldValue* login = find_field(entries, "LOGIN");
    const FieldValue* secret = find_field(entries, "PASSWORD");
    if (login == nullptr || secret == nullptr || field_as_string(*login) == nullptr ||
        field_as_string(*secret) == nullptr) {
      return false;
    }
    user = *field_as_string(*login);
    password = *field_as_string(*secret);
  } else {
    return false;
  }
  return user == options_.user && password == options_.password;
}

bool Connection::handle_start_ok(const ConnectionStartOk& start_ok) {
  FieldEntries client;
  if (parse_table(start_ok.client_properties.raw, client)) {
    if (const FieldValue* capabilities = find_field(client, "capabilities")) {
      if (const auto* table = std::get_if<FieldEntries>(&capabilities->value)) {
        client_wants_cancel_notify_ = capability(*table, "consumer_cancel_notify");
        client_wants_blocked_notify_ = capability(*table, "connection.blocked");
      }
    }
  }
  if (start_ok.mechanism != "PLAIN" && start_ok.mechanism != "AMQPLAIN") {
    connection_error(403, fmt::format("ACCESS_REFUSED - NOT_AUTHENTICATED: mechanism \"{}\" is not offered; "
                                      "use PLAIN or AMQPLAIN",
                                      start_ok.mechanism));
    return false;
  }
  if (!check_credentials(start_ok)) {
    log::event(log::Level::kWarn, "amqp.login_refused",
               {log::kv("peer", peer_), log::kv("mechanism", start_ok.mechanism)});
    connection_error(403,
                     "ACCESS_REFUSED - NOT_AUTHENTICATED: user name or password refused; "
                     "Ballast accepts guest/guest until users are configured");
    return false;
  }
  user_ = options_.user;
  ConnectionTune tune;
  tune.channel_max = options_.channel_max;
  tune.frame_max = options_.frame_max;
  tune.heartbeat = options_.heartbeat_seconds;
  send(0, tune);
  state_ = State::kAwaitTuneOk;
  return true;
}

bool Connection::handle_connection_method(const Method& method, MethodId id) {
  if (const auto* start_ok = std::get_if<ConnectionStartOk>(&method)) {
    if (state_ != State::kAwaitStartOk) {
      connection_error(503, "COMMAND_INVALID - connection.start-ok out of order", id);
      return false;
    }
    return handle_start_ok(*start_ok);
  }
  if (const auto* tune_ok = std::get_if<ConnectionTuneOk>(&method)) {
    if (state_ != State::kAwaitTuneOk) {
      connection_error(503, "COMMAND_INVALID - connection.tune-ok out of order", id);
      return false;
    }
    if (tune_ok->frame_max != 0 && tune_ok->frame_max < 4096) {
      connection_error(
          530, fmt::format("NOT_ALLOWED - frame_max {} is below the minimum 4096", tune_ok->frame_max), id);
      return false;
    }
    if (tune_ok->frame_max > options_.frame_max || tune_ok->channel_max > options_.channel_max) {
      connection_error(
          530,
          fmt::format("NOT_ALLOWED - tune-ok asks frame_max {} / channel_max {}, above the offered {} / {}",
                      tune_ok->frame_max, tune_ok->channel_max, options_.frame_max, options_.channel_max),
          id);
      return false;
    }
    frame_max_ = tune_ok->frame_max == 0 ? options_.frame_max : tune_ok->frame_max;
    channel_max_ = tune_ok->channel_max == 0 ? options_.channel_max : tune_ok->channel_max;
    heartbeat_seconds_ = tune_ok->heartbeat;
    state_ = State::kAwaitOpen;
    return true;
  }
  if (const auto* open = std::get_if<ConnectionOpen>(&method)) {
    if (state_ != State::kAwaitOpen) {
      connection_error(503, "COMMAND_INVALID - connection.open out of order", id);
      return false;
    }
    if (open->virtual_host != "/") {
      connection_error(
          530,
          fmt::format("NOT_ALLOWED - ACCESS_REFUSED: vhost \"{}\" does not exist; this Ballast serves "
                      "only \"/\"",
                      open->virtual_host),
          id);
      return false;
    }
    vhost_ = open->virtual_host;
    send(0, ConnectionOpenOk{});
    state_ = State::kOpen;
    log::event(log::Level::kInfo, "amqp.connection_opened",
               {log::kv("peer", peer_), log::kv("user", user_), log::kv("heartbeat_s", heartbeat_seconds_)});
    return true;
  }
  if (const auto* close = std::get_if<ConnectionClose>(&method)) {
    log::event(
        log::Level::kInfo, "amqp.connection_closed_by_client",
        {log::kv("peer", peer_), log::kv("code", close->reply_code), log::kv("text", close->reply_text)});
    // Unacked deliveries go back before close-ok, and so do those of polls still out, and
    // publishes are stored: once the client sees it, another connection finds them in the queue.
    flush_publishes();
    flush_acks();
    for (auto& [channel_id, channel] : channels_) release_channel(channel);
    channels_.clear();
    state_ = State::kClosed;
    close_ok_pending_ = true;
    close_requested_ms_ = steady_now_ms();
    maybe_finish_client_close();
    return false;
  }
  if (std::holds_alternative<ConnectionCloseOk>(method)) {
    state_ = State::kClosed;
    io_.close_after_output();
    return false;
  }
  if (std::holds_alternative<ConnectionBlocked>(method) ||
      std::holds_alternative<ConnectionUnblocked>(method)) {
    return true;  // a client telling us it is blocked: nothing to do
  }
  connection_error(
      503,
      fmt::format("COMMAND_INVALID - {} is not valid on channel 0", method_name(id.class_id, id.method_id)),
      id);
  return false;
}

Connection::Channel* Connection::find_channel(uint16_t id) {
  auto found = channels_.find(id);
  return found == channels_.end() ? nullptr : &found->second;
}

broker::Callback<void> log_failed_delete(std::string queue, std::string_view why) {
  return [queue = std::move(queue), why = std::string(why)](Result<void> deleted) {
    if (deleted) return;
    log::event(log::Level::kWarn, "amqp.queue_delete_failed",
               {log::kv("queue", queue), log::kv("why_deleted", why),
                log::kv("code", deleted.error().code_name()), log::kv("message", deleted.error().message()),
                log::kv("fix", "delete the queue by hand once storage works")});
  };
}

Connection::Channel* Connection::find_channel(ChannelRef ref) {
  Channel* channel = find_channel(ref.id);
  if (channel == nullptr || channel->incarnation != ref.incarnation || channel->closing) return nullptr;
  return channel;
}

bool Connection::handle_channel_frame(const Frame& frame) {
  Channel* channel = find_channel(frame.channel);
  if (frame.type != static_cast<uint8_t>(FrameType::kMethod)) {
    if (channel == nullptr || channel->closing) return true;  // content for a closed channel: dropped
    if (!channel->content) {
      connection_error(
          505,
          fmt::format("UNEXPECTED_FRAME - content frame on channel {} without basic.publish", frame.channel));
      return false;
    }
    return frame.type == static_cast<uint8_t>(FrameType::kHeader)
               ? handle_content_header(*channel, frame.payload)
               : handle_content_body(*channel, frame.payload);
  }
  MethodId id;
  bool unknown = false;
  auto method = decode_method(frame.payload, id, unknown);
  if (!method) {
    connection_error(
        unknown ? 540 : 502,
        unknown
            ? fmt::format("NOT_IMPLEMENTED - unknown method {}.{}", id.class_id, id.method_id)
            : fmt::format("SYNTAX_ERROR - {} arguments do not parse", method_name(id.class_id, id.method_id)),
        id);
    return false;
  }
  if (channel != nullptr && channel->content) {
    connection_error(505,
                     fmt::format("UNEXPECTED_FRAME - {} on channel {} while its content is incomplete",
                                 method_name(id.class_id, id.method_id), frame.channel),
                     id);
    return false;
  }
  if (std::holds_alternative<ChannelOpen>(*method)) {
    if (channel != nullptr) {
      connection_error(504, fmt::format("CHANNEL_ERROR - channel {} is already open", frame.channel), id);
      return false;
    }
    if (frame.channel > channel_max_) {
      connection_error(
          530, fmt::format("NOT_ALLOWED - channel {} is above channel_max {}", frame.channel, channel_max_),
          id);
      return false;
    }
    Channel& opened = channels_[frame.channel];
    opened.id = frame.channel;
    opened.incarnation = ++last_incarnation_;
    send(frame.channel, ChannelOpenOk{});
    return true;
  }
  if (channel == nullptr) {
    connection_error(504,
                     fmt::format("CHANNEL_ERROR - {} on channel {}, which is not open",
                                 method_name(id.class_id, id.method_id), frame.channel),
                     id);
    return false;
  }
  if (channel->closing) {
    if (std::holds_alternative<ChannelCloseOk>(*method)) {
      channels_.erase(frame.channel);
    } else if (std::holds_alternative<ChannelClose>(*method)) {
      send(frame.channel, ChannelCloseOk{});
    }
    return true;  // everything else is dropped until close-ok (spec 2.2.4)
  }
  return handle_channel_method(*channel, *method, id);
}

void Connection::resume() {
  paused_ = false;
  process_input();
  if (wants_input()) io_.input_wanted();
}

void Connection::channel_error(uint16_t channel_id, const Error& error, MethodId id) {
  const ErrorCodeInfo& info = error_code_info(error.code());
  channel_error(channel_id, info.amqp_reply_code,
                r1_reply_text(fmt::format("{} - ", reply_name(info.amqp_reply_code)), error), id);
}

void Connection::channel_error(uint16_t channel_id, int reply_code, std::string text, MethodId id) {
  Channel* channel = find_channel(channel_id);
  if (channel == nullptr || channel->closing) return;
  log::limited_event(log::Level::kInfo, "amqp.channel_error",
                     {log::kv("peer", peer_), log::kv("channel", channel_id), log::kv("code", reply_code),
                      log::kv("text", text)});
  release_channel(*channel);
  channel->closing = true;
  send(channel_id, ChannelClose{static_cast<uint16_t>(reply_code), clip_reply(std::move(text)), id.class_id,
                                id.method_id});
}

void Connection::connection_error(int reply_code, std::string text, MethodId id) {
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  log::event(log::Level::kWarn, "amqp.connection_error",
             {log::kv("peer", peer_), log::kv("code", reply_code), log::kv("text", text)});
  for (auto& [channel_id, channel] : channels_) release_channel(channel);
  send(0, ConnectionClose{static_cast<uint16_t>(reply_code), clip_reply(std::move(text)), id.class_id,
                          id.method_id});
  state_ = State::kClosing;
  closing_deadline_ms_ = steady_now_ms() + kCloseOkTimeoutMs;
  paused_ = false;
}

void Connection::fatal_frame_error(std::string text) {
  // The byte stream has lost its framing: nothing after this point can be read, not even the
  // client's close-ok. Say why, then close the socket (as RabbitMQ does).
  connection_error(501, std::move(text));
  inbox_.clear();
  state_ = State::kClosed;
  io_.close_after_output();
}

void Connection::on_timer(int64_t now_ms) {
  if (close_ok_pending_ && now_ms - close_requested_ms_ > options_.publish_timeout_ms) {
    // The broker did not answer in time (storage stalled): the client is not kept waiting.
    log::event(log::Level::kWarn, "amqp.close_ok_forced",
               {log::kv("peer", peer_), log::kv("polls_out", polls_out_),
                log::kv("publish_batches", publish_batches_in_flight_),
                log::kv("timeout_ms", options_.publish_timeout_ms)});
    close_ok_pending_ = false;
    finish_client_close();
  }
  if (state_ == State::kClosed) return;
  if (state_ < State::kOpen && now_ms - connected_at_ms_ > kHandshakeTimeoutMs) {
    log::event(log::Level::kInfo, "amqp.handshake_timeout",
               {log::kv("peer", peer_), log::kv("timeout_ms", kHandshakeTimeoutMs)});
    state_ = State::kClosed;
    io_.close_after_output();
    return;
  }
  if (state_ == State::kClosing && now_ms >= closing_deadline_ms_) {
    log::event(log::Level::kInfo, "amqp.close_ok_timeout", {log::kv("peer", peer_)});
    state_ = State::kClosed;
    io_.close_after_output();
    return;
  }
  if (state_ == State::kOpen) expire_unconfirmed(now_ms);
  if (outbox_.size() != outbox_at_last_tick_) last_sent_ms_ = now_ms;
  if (heartbeat_seconds_ == 0 || state_ == State::kAwaitHeader) return;
  const int64_t interval_ms = int64_t{heartbeat_seconds_} * 1000;
  if (now_ms - last_received_ms_ > 2 * interval_ms) {
    log::event(log::Level::kWarn, "amqp.heartbeat_missed",
               {log::kv("peer", peer_), log::kv("heartbeat_s", heartbeat_seconds_),
                log::kv("silent_ms", now_ms - last_received_ms_)});
    state_ = State::kClosed;
    io_.close_after_output();
    return;
  }
  if (now_ms - last_sent_ms_ >= interval_ms / 2) {
    write_heartbeat(outbox_);
    last_sent_ms_ = now_ms;
  }
  outbox_at_last_tick_ = outbox_.size();
  flush_output();
}

void Connection::on_output_drained() {
  outbox_at_last_tick_ = 0;
  last_sent_ms_ = steady_now_ms();
  if (state_ == State::kOpen) pump_all();
  flush_output();
  if (wants_input()) io_.input_wanted();
}

void Connection::flush_output() {
  if (!outbox_.empty()) io_.output_ready();
}

void Connection::on_transport_closed() {
  if (state_ != State::kClosed) {
    log::event(log::Level::kInfo, "amqp.connection_lost", {log::kv("peer", peer_)});
  }
  state_ = State::kClosed;
  flush_publishes();
  flush_acks();
  for (auto& [channel_id, channel] : channels_) release_channel(channel);
  channels_.clear();
  for (const std::string& queue : exclusive_queues_) {
    registry_.forget_queue({vhost_, queue});
    broker_.delete_queue(vhost_, queue, log_failed_delete(queue, "exclusive queue of a closed connection"));
  }
  exclusive_queues_.clear();
}

void Connection::finish_client_close() {
  send(0, ConnectionCloseOk{});
  io_.close_after_output();
}

void Connection::maybe_finish_client_close() {
  if (!close_ok_pending_ || polls_out_ > 0 || publish_batches_in_flight_ > 0) return;
  close_ok_pending_ = false;
  finish_client_close();
}

Connection::Channel* Connection::poll_owner(ChannelRef ref) {
  Channel* channel = find_channel(ref.id);
  return channel != nullptr && channel->incarnation == ref.incarnation ? channel : nullptr;
}

bool Connection::handle_channel_method(Channel& channel, Method& method, MethodId id) {
  return std::visit(
      [&](auto& m) -> bool {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, ChannelClose>) {
          // Polls still out (of its consumers, and of those cancelled before) may bring
          // deliveries: close-ok waits until they are back in their queues, so that the client
          // finds them there once it has it (as with RabbitMQ).
          release_channel(channel);
          if (channel.polls_out > 0) {
            channel.close_ok_pending = true;
            pause();
            return true;
          }
          send(channel.id, ChannelCloseOk{});
          channels_.erase(channel.id);
        } else if constexpr (std::is_same_v<M, ChannelFlow>) {
          channel.flow_active = m.active;
          send(channel.id, ChannelFlowOk{m.active});
          if (m.active) pump_all();
        } else if constexpr (std::is_same_v<M, ChannelFlowOk>) {
        } else if constexpr (std::is_same_v<M, AccessRequest>) {
          send(channel.id, AccessRequestOk{});
        } else if constexpr (std::is_same_v<M, ExchangeDeclare>) {
          exchange_declare(channel, m);
        } else if constexpr (std::is_same_v<M, ExchangeDelete>) {
          exchange_delete(channel, m);
        } else if constexpr (std::is_same_v<M, ExchangeBind> || std::is_same_v<M, ExchangeUnbind>) {
          channel_error(
              channel.id, 540,
              fmt::format("NOT_IMPLEMENTED - NOT_IMPLEMENTED: {} (exchange-to-exchange bindings) is not "
                          "supported yet. Fix: bind the queues to the source exchange directly",
                          M::kName),
              id);
        } else if constexpr (std::is_same_v<M, QueueDeclare>) {
          queue_declare(channel, m);
        } else if constexpr (std::is_same_v<M, QueueBind>) {
          queue_bind(channel, m, false);
        } else if constexpr (std::is_same_v<M, QueueUnbind>) {
          QueueBind bind{m.ticket, m.queue, m.exchange, m.routing_key, false, m.arguments};
          queue_bind(channel, bind, true);
        } else if constexpr (std::is_same_v<M, QueuePurge>) {
          queue_purge(channel, m);
        } else if constexpr (std::is_same_v<M, QueueDelete>) {
          queue_delete(channel, m);
        } else if constexpr (std::is_same_v<M, BasicQos>) {
          if (m.prefetch_size != 0) {
            channel_error(channel.id, 540,
                          "NOT_IMPLEMENTED - NOT_IMPLEMENTED: basic.qos prefetch_size is not "
                          "supported (as in RabbitMQ); use prefetch_count",
                          id);
            return true;
          }
          (m.global ? channel.prefetch_per_channel : channel.prefetch_per_consumer) = m.prefetch_count;
          send(channel.id, BasicQosOk{});
          pump_all();
        } else if constexpr (std::is_same_v<M, BasicConsume>) {
          basic_consume(channel, m);
        } else if constexpr (std::is_same_v<M, BasicCancel>) {
          basic_cancel(channel, m.consumer_tag, m.nowait);
        } else if constexpr (std::is_same_v<M, BasicPublish>) {
          PendingContent content;
          content.method = std::move(m);
          channel.content = std::move(content);
        } else if constexpr (std::is_same_v<M, BasicGet>) {
          basic_get(channel, m);
        } else if constexpr (std::is_same_v<M, BasicAck>) {
          basic_settle(channel, {m.delivery_tag, m.multiple, Outcome::kAck}, id);
        } else if constexpr (std::is_same_v<M, BasicReject>) {
          basic_settle(channel,
                       {m.delivery_tag, false, m.requeue ? Outcome::kNackRequeue : Outcome::kNackDiscard},
                       id);
        } else if constexpr (std::is_same_v<M, BasicNack>) {
          basic_settle(
              channel,
              {m.delivery_tag, m.multiple, m.requeue ? Outcome::kNackRequeue : Outcome::kNackDiscard}, id);
        } else if constexpr (std::is_same_v<M, BasicRecover>) {
          basic_recover(channel);
          send(channel.id, BasicRecoverOk{});
        } else if constexpr (std::is_same_v<M, BasicRecoverAsync>) {
          basic_recover(channel);
        } else if constexpr (std::is_same_v<M, ConfirmSelect>) {
          if (channel.tx_mode) {
            channel_error(channel.id, 406,
                          "PRECONDITION_FAILED - INVALID_ARGUMENT: the channel is transactional; "
                          "confirm.select and tx.select cannot be combined",
                          id);
            return true;
          }
          channel.confirm_mode = true;
          if (!m.nowait) send(channel.id, ConfirmSelectOk{});
        } else if constexpr (std::is_same_v<M, TxSelect>) {
          if (channel.confirm_mode) {
            channel_error(channel.id, 406,
                          "PRECONDITION_FAILED - INVALID_ARGUMENT: the channel is in confirm mode; "
                          "tx.select and confirm.select cannot be combined",
                          id);
            return true;
          }
          channel.tx_mode = true;
          send(channel.id, TxSelectOk{});
        } else if constexpr (std::is_same_v<M, TxCommit> || std::is_same_v<M, TxRollback>) {
          if (!channel.tx_mode) {
            channel_error(channel.id, 406,
                          fmt::format("PRECONDITION_FAILED - INVALID_ARGUMENT: {} on a channel "
                                      "without tx.select",
                                      M::kName),
                          id);
            return true;
          }
          if constexpr (std::is_same_v<M, TxCommit>) {
            tx_commit(channel);
          } else {
            channel.tx_publishes.clear();
            channel.tx_settlements.clear();
            send(channel.id, TxRollbackOk{});
          }
        } else {
          const bool is_connection_class = id.class_id == kConnectionClassId;
          connection_error(
              is_connection_class ? 504 : 503,
              fmt::format("{} - {} is not valid on channel {}",
                          is_connection_class ? "CHANNEL_ERROR" : "COMMAND_INVALID", M::kName, channel.id),
              id);
          return false;
        }
        return true;
      },
      method);
}

}  // namespace ballast::amqp

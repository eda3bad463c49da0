// Connection: basic.* (publish and its confirms, consume, get, ack/nack/reject, recover).
// Publishes and acks read in one input pass go to the broker as one call per pass (publish_routed; ack/nack
// per queue), which keeps the per-message cost to the codec.
#include "fmt/format.h"
#include "protocol/amqp091/connection.h"
#include "protocol/amqp091/message_mapping.h"
#include "util/log.h"

namespace ballast::amqp {
namespace {

constexpr uint32_t kMaxPerPoll = 1000;         // the broker's receive limit
constexpr uint32_t kPollWaitMs = 60000;        // a consumer's long poll; re-issued when it ends empty
constexpr size_t kOutboxHighWater = 4u << 20;  // stop fetching for consumers above this

}  // namespace

bool Connection::handle_content_header(Channel& channel, std::string_view payload) {
  PendingContent& content = *channel.content;
  WireReader reader(payload);
  uint16_t class_id = 0, weight = 0;
  if (content.have_header || !reader.short_(class_id) || !reader.short_(weight) ||
      !reader.longlong(content.body_size) || class_id != BasicPublish::kClassId) {
    connection_error(505, fmt::format("UNEXPECTED_FRAME - bad content header on channel {}", channel.id));
    return false;
  }
  std::string_view properties;
  reader.bytes(reader.remaining(), properties);
  content.properties.assign(properties);
  content.have_header = true;
  if (content.body_size > options_.max_message_bytes) {
    // Refused before any of it is read; its body frames are dropped with the closing channel.
    channel_error(
        channel.id,
        Error(ErrorCode::kMessageTooLarge,
              fmt::format("a message to exchange \"{}\" has a {}-byte body, over the limit of {} bytes set "
                          "by limits.max_message_bytes",
                          content.method.exchange, content.body_size, options_.max_message_bytes),
              "split the payload or store it elsewhere and send a reference; or raise "
              "limits.max_message_bytes"),
        {BasicPublish::kClassId, BasicPublish::kMethodId});
    return true;
  }
  if (content.body_size == 0) complete_publish(channel);
  return true;
}

bool Connection::handle_content_body(Channel& channel, std::string_view payload) {
  PendingContent& content = *channel.content;
  if (!content.have_header || content.body.size() + payload.size() > content.body_size) {
    connection_error(505,
                     fmt::format("UNEXPECTED_FRAME - body frame on channel {} beyond the declared size {}",
                                 channel.id, content.body_size));
    return false;
  }
  content.body.append(payload);
  if (content.body.size() == content.body_size) complete_publish(channel);
  return true;
}

void Connection::complete_publish(Channel& channel) {
  PendingContent content = std::move(*channel.content);
  channel.content.reset();
  const uint64_t seq = channel.confirm_mode ? channel.next_publish_seq++ : 0;
  const MethodId id{BasicPublish::kClassId, BasicPublish::kMethodId};
  auto request = publish_request(std::move(content.properties), std::move(content.body), user_);
  if (!request) {
    channel_error(channel.id, request.error(), id);
    return;
  }
  if (content.method.immediate) {
    channel_error(channel.id, 540,
                  "NOT_IMPLEMENTED - NOT_IMPLEMENTED: the immediate flag is not supported (as "
                  "in RabbitMQ 3); publish without it",
                  id);
    return;
  }
  if (seq != 0) channel.unconfirmed.emplace(seq, steady_now_ms() + options_.publish_timeout_ms);
  OutgoingPublish publish{ref(channel), seq, std::move(content.method), std::move(*request)};
  if (channel.tx_mode) {
    if (channel.tx_publishes.size() >= kMaxTxPublishes) {
      channel_error(channel.id,
                    Error(ErrorCode::kRequestTooLarge,
                          fmt::format("the transaction on channel {} holds {} publishes, the most one may",
                                      channel.id, kMaxTxPublishes),
                          "commit more often (tx.commit), or use publisher confirms for large batches"),
                    id);
      return;
    }
    channel.tx_publishes.push_back(std::move(publish));
    return;
  }
  queue_publish(std::move(publish));
}

void Connection::queue_publish(OutgoingPublish publish) {
  pending_publishes_.push_back(std::move(publish));
}

void Connection::flush_publishes() {
  if (pending_publishes_.empty()) return;
  std::vector<OutgoingPublish> batch = std::move(pending_publishes_);
  pending_publishes_.clear();
  auto messages = routed_messages(batch);
  ++publish_batches_in_flight_;
  broker_.publish_routed(vhost_, std::move(messages),
                         on_answer<std::vector<broker::RouteResult>>(
                             // Shared, not copied: the broker copies its callbacks.
                             [batch = std::make_shared<std::vector<OutgoingPublish>>(std::move(batch))](
                                 Connection& self, auto result) {
                               --self.publish_batches_in_flight_;
                               self.on_published(*batch, std::move(result));
                               self.maybe_finish_client_close();
                             }));
}

std::vector<broker::RoutedMessage> Connection::routed_messages(std::vector<OutgoingPublish>& batch) {
  std::vector<broker::RoutedMessage> messages;
  messages.reserve(batch.size());
  for (OutgoingPublish& publish : batch) {
    broker::RoutedMessage routed;
    routed.exchange = publish.method.exchange;
    routed.routing_key = publish.method.routing_key;
    routed.match_headers = match_headers(publish.request.properties.amqp_properties);
    // A mandatory publish keeps its content: basic.return sends it back if nothing takes it.
    routed.request = publish.method.mandatory ? publish.request : std::move(publish.request);
    routed.request.properties.amqp_exchange = publish.method.exchange;
    routed.request.properties.amqp_routing_key = publish.method.routing_key;
    messages.push_back(std::move(routed));
  }
  return messages;
}

void Connection::on_published(std::vector<OutgoingPublish>& batch,
                              Result<std::vector<broker::RouteResult>> result) {
  std::map<uint16_t, std::pair<std::vector<uint64_t>, std::vector<uint64_t>>> confirms;  // acks, nacks
  for (size_t i = 0; i < batch.size(); ++i) {
    OutgoingPublish& publish = batch[i];
    Channel* channel = find_channel(publish.channel);  // null: closed since (confirms die with it)
    const bool stored_or_dropped = result && !(*result)[i].refused;
    if (!result) {
      log::limited_event(log::Level::kWarn, "amqp.publish_failed",
                         {log::kv("peer", peer_), log::kv("code", result.error().code_name()),
                          log::kv("message", result.error().message())});
    } else if (const auto& refused = (*result)[i].refused) {
      if (refused->code() == ErrorCode::kNotFound && channel != nullptr) {
        channel_error(publish.channel.id, *refused, {BasicPublish::kClassId, BasicPublish::kMethodId});
        continue;
      }
      log::limited_event(log::Level::kInfo, "amqp.publish_refused",
                         {log::kv("peer", peer_), log::kv("exchange", publish.method.exchange),
                          log::kv("routing_key", publish.method.routing_key),
                          log::kv("code", refused->code_name()), log::kv("message", refused->message())});
    } else if ((*result)[i].queues == 0 && publish.method.mandatory && channel != nullptr) {
      send(publish.channel.id,
           BasicReturn{312, "NO_ROUTE", publish.method.exchange, publish.method.routing_key});
      write_content(outbox_, publish.channel.id, publish.request.properties.amqp_properties,
                    publish.request.body, frame_max_);
    }
    if (publish.confirm_seq == 0 || channel == nullptr) continue;
    auto& [acks, nacks] = confirms[publish.channel.id];
    (stored_or_dropped ? acks : nacks).push_back(publish.confirm_seq);
  }
  for (auto& [channel_id, lists] : confirms) {
    Channel* channel = find_channel(channel_id);
    if (channel == nullptr || channel->closing) continue;  // closed by an error in this batch
    confirm(*channel, lists.first, true);
    confirm(*channel, lists.second, false);
  }
}

void Connection::confirm(Channel& channel, std::vector<uint64_t> seqs, bool ack) {
  // A seq no longer open was nacked by the publish timeout: it is not confirmed twice.
  std::erase_if(seqs, [&](uint64_t seq) { return channel.unconfirmed.erase(seq) == 0; });
  if (seqs.empty()) return;
  const uint64_t highest = *std::max_element(seqs.begin(), seqs.end());
  const uint64_t lowest_open = channel.unconfirmed.empty() ? UINT64_MAX : channel.unconfirmed.begin()->first;
  // One frame with `multiple` covers them all when nothing below the highest is still open and
  // the batch is contiguous (the common case: one pass of publishes, one fsync).
  const bool contiguous = highest - *std::min_element(seqs.begin(), seqs.end()) + 1 == seqs.size();
  if (contiguous && lowest_open > highest && seqs.size() > 1) {
    if (ack) {
      send(channel.id, BasicAck{highest, true});
    } else {
      send(channel.id, BasicNack{highest, true, false});
    }
    return;
  }
  for (uint64_t seq : seqs) {
    if (ack) {
      send(channel.id, BasicAck{seq, false});
    } else {
      send(channel.id, BasicNack{seq, false, false});
    }
  }
}

void Connection::expire_unconfirmed(int64_t now_ms) {
  for (auto& [channel_id, channel] : channels_) {
    std::vector<uint64_t> expired;
    for (const auto& [seq, deadline] : channel.unconfirmed) {
      if (deadline <= now_ms) expired.push_back(seq);
    }
    if (expired.empty()) continue;
    log::event(
        log::Level::kWarn, "amqp.publish_timed_out",
        {log::kv("peer", peer_), log::kv("channel", channel_id), log::kv("messages", expired.size()),
         log::kv("timeout_ms", options_.publish_timeout_ms),
         log::kv("why", "the journal has not made them durable in time; see storage events and /healthz"),
         log::kv("fix", "check the disk (ballast doctor); the publisher may retry")});
    confirm(channel, std::move(expired), false);
  }
}

void Connection::set_blocked(const std::optional<Error>& reason) {
  if (state_ != State::kOpen || !client_wants_blocked_notify_ || blocked_ == reason.has_value()) return;
  blocked_ = reason.has_value();
  if (reason) {
    send(0, ConnectionBlocked{r1_reply_text("", *reason)});
  } else {
    send(0, ConnectionUnblocked{});
  }
  flush_output();
}

// --- consuming ---

uint32_t Connection::consumer_credit(const Channel& channel, const Consumer& consumer) const {
  if (!channel.flow_active || channel.closing || outbox_.size() > kOutboxHighWater) return 0;
  uint32_t credit = kMaxPerPoll;
  if (!consumer.no_ack && channel.prefetch_per_consumer != 0) {
    credit = consumer.unacked >= channel.prefetch_per_consumer
                 ? 0
                 : channel.prefetch_per_consumer - consumer.unacked;
  }
  if (!consumer.no_ack && channel.prefetch_per_channel != 0) {
    const uint32_t channel_unacked = static_cast<uint32_t>(channel.unacked.size());
    const uint32_t left =
        channel_unacked >= channel.prefetch_per_channel ? 0 : channel.prefetch_per_channel - channel_unacked;
    credit = std::min(credit, left);
  }
  return credit;
}

void Connection::pump(Channel& channel, Consumer& consumer) {
  if (consumer.polling || state_ != State::kOpen) return;
  const uint32_t credit = consumer_credit(channel, consumer);
  if (credit == 0) return;
  consumer.polling = true;
  broker::ReceiveRequest request;
  request.max_messages = std::min(credit, kMaxPerPoll);
  request.wait_ms = kPollWaitMs;
  request.hold_until_settled = true;
  request.waiter_id = consumer.waiter_id;
  request.receipt_strings = false;
  ++channel.polls_out;
  ++polls_out_;
  broker_.receive(vhost_, consumer.queue, request,
                  on_deliveries(consumer.queue, [channel = ref(channel), tag = consumer.tag,
                                                 queue = consumer.queue](Connection& self, auto result) {
                    self.on_delivered(channel, tag, queue, std::move(result));
                  }));
}

void Connection::pump_all() {
  for (auto& [channel_id, channel] : channels_) {
    for (auto& [tag, consumer] : channel.consumers) pump(channel, consumer);
  }
}

void Connection::on_delivered(ChannelRef channel_ref, const std::string& tag, const std::string& queue,
                              Result<std::vector<broker::DeliveredMessage>> result) {
  // Every poll is counted out here, whatever its answer and whatever became of its channel.
  --polls_out_;
  Channel* owner = poll_owner(channel_ref);
  if (owner != nullptr) --owner->polls_out;
  if (state_ == State::kClosed) {  // connection.close received; this poll was still out
    if (result) return_deliveries(broker_, vhost_, queue, *result);
    maybe_finish_client_close();
    return;
  }
  if (owner != nullptr && owner->close_ok_pending) {
    if (result) return_deliveries(broker_, vhost_, queue, *result);
    if (owner->polls_out == 0) {
      send(channel_ref.id, ChannelCloseOk{});
      channels_.erase(channel_ref.id);
      resume();
    }
    return;
  }
  Channel* channel = find_channel(channel_ref);
  Consumer* consumer = nullptr;
  if (channel != nullptr && state_ == State::kOpen) {
    auto found = channel->consumers.find(tag);
    if (found != channel->consumers.end()) consumer = &found->second;
  }
  if (!result) {
    if (consumer == nullptr) return;
    // The consumer cannot go on (its queue was deleted, storage failed): it is cancelled and
    // the client told so, never left waiting in silence.
    log::limited_event(
        log::Level::kWarn, "amqp.consume_failed",
        {log::kv("peer", peer_), log::kv("queue", consumer->queue),
         log::kv("code", result.error().code_name()), log::kv("message", result.error().message())});
    consumer->polling = false;
    const std::string consumer_tag = consumer->tag;
    remove_consumer(*channel, *consumer);
    channel->consumers.erase(consumer_tag);
    if (client_wants_cancel_notify_) {
      send(channel->id, BasicCancel{consumer_tag, true});
    } else {
      channel_error(channel->id, result.error(), {BasicConsume::kClassId, BasicConsume::kMethodId});
    }
    return;
  }
  if (consumer == nullptr) {
    // The consumer went away while the poll was out: the messages go back to the queue.
    return_deliveries(broker_, vhost_, queue, *result);
    return;
  }
  consumer->polling = false;
  for (broker::DeliveredMessage& message : *result) deliver(*channel, *consumer, message);
  flush_acks();  // a no-ack consumer's deliveries are settled now, not at its next input
  pump(*channel, *consumer);
}

void Connection::return_deliveries(broker::Broker& broker, const std::string& vhost, const std::string& queue,
                                   std::vector<broker::DeliveredMessage>& messages) {
  std::vector<broker::LeaseRef> leases;
  for (const broker::DeliveredMessage& message : messages) leases.push_back(message.lease);
  if (leases.empty()) return;
  broker.nack_leases(vhost, queue, std::move(leases), true, [queue](Result<broker::SettleOutcome> returned) {
    if (returned) return;
    log::limited_event(log::Level::kWarn, "amqp.nack_failed",
                       {log::kv("queue", queue), log::kv("code", returned.error().code_name()),
                        log::kv("message", returned.error().message())});
  });
}

void Connection::deliver(Channel& channel, Consumer& consumer, broker::DeliveredMessage& message) {
  const uint64_t tag = channel.next_delivery_tag++;
  const bool from_http = message.properties.amqp_properties.empty();
  send(channel.id, BasicDeliver{consumer.tag, tag, message.redelivered, message.properties.amqp_exchange,
                                from_http ? consumer.queue : message.properties.amqp_routing_key});
  write_content(outbox_, channel.id, delivery_properties(message), message.body, frame_max_);
  if (consumer.no_ack) {
    pending_acks_[consumer.queue].push_back(message.lease);
    return;
  }
  ++consumer.unacked;
  channel.unacked.emplace(tag, Unacked{consumer.source, message.lease});
}

void Connection::basic_consume(Channel& channel, const BasicConsume& method) {
  const MethodId id{BasicConsume::kClassId, BasicConsume::kMethodId};
  std::string tag = method.consumer_tag.empty()
                        ? fmt::format("amq.ctag-{}-{}", id_, registry_.next_waiter_id())
                        : method.consumer_tag;
  if (channel.consumers.contains(tag)) {
    connection_error(
        530,
        fmt::format("NOT_ALLOWED - consumer tag \"{}\" is already in use on channel {}", tag, channel.id),
        id);
    return;
  }
  if (refuse_if_exclusive_elsewhere(channel, method.queue, id)) return;
  const Registry::QueueKey key{vhost_, method.queue};
  if (registry_.has_exclusive_consumer(key) || (method.exclusive && registry_.consumer_count(key) > 0)) {
    channel_error(
        channel.id, 403,
        fmt::format("ACCESS_REFUSED - ACCESS_REFUSED: queue \"{}\" has an exclusive consumer, or this "
                    "exclusive consumer would share it. Fix: cancel the other consumer first",
                    method.queue),
        id);
    return;
  }
  pause();
  broker_.queue_info(
      vhost_, method.queue,
      on_answer<broker::QueueInfo>([channel_id = channel.id, method, tag, id](Connection& self, auto info) {
        Channel* channel = self.find_channel(channel_id);
        if (channel == nullptr || channel->closing) return self.resume();
        if (!info) {
          self.channel_error(channel_id, info.error(), id);
          return self.resume();
        }
        Consumer& consumer = channel->consumers[tag];
        consumer.tag = tag;
        consumer.queue = method.queue;
        consumer.source = std::make_shared<const DeliverySource>(DeliverySource{method.queue, tag});
        consumer.no_ack = method.no_ack;
        consumer.exclusive = method.exclusive;
        consumer.auto_delete_queue = info->settings.auto_delete;
        consumer.waiter_id = self.registry_.next_waiter_id();
        self.registry_.add_consumer({self.vhost_, method.queue}, self.shared_from_this(), channel_id, tag,
                                    method.exclusive);
        if (!method.nowait) self.send(channel_id, BasicConsumeOk{tag});
        self.pump(*channel, consumer);
        self.resume();
      }));
}

void Connection::basic_cancel(Channel& channel, const std::string& tag, bool nowait) {
  auto found = channel.consumers.find(tag);
  if (found != channel.consumers.end()) {
    remove_consumer(channel, found->second);
    channel.consumers.erase(found);
  }
  if (!nowait) send(channel.id, BasicCancelOk{tag});
}

void Connection::remove_consumer(Channel& channel, Consumer& consumer) {
  const Registry::QueueKey key{vhost_, consumer.queue};
  registry_.remove_consumer(key, id_, channel.id, consumer.tag);
  if (consumer.polling) broker_.cancel_receive(vhost_, consumer.queue, consumer.waiter_id);
  if (!consumer.auto_delete_queue || registry_.consumer_count(key) > 0) return;
  // RabbitMQ's auto-delete: the queue goes with its last consumer. Unacked deliveries are
  // settled by the deletion; the consumers' channels learn it from basic.cancel.
  broker_.delete_queue(vhost_, consumer.queue,
                       log_failed_delete(consumer.queue, "auto-delete queue without consumers"));
  registry_.forget_queue(key);
}

void Connection::cancel_consumer_for_deleted_queue(uint16_t channel_id, const std::string& tag) {
  Channel* channel = find_channel(channel_id);
  if (channel == nullptr || !channel->consumers.contains(tag)) return;
  channel->consumers.erase(tag);
  if (client_wants_cancel_notify_) send(channel_id, BasicCancel{tag, true});
  flush_output();
}

void Connection::basic_get(Channel& channel, const BasicGet& method) {
  const MethodId id{BasicGet::kClassId, BasicGet::kMethodId};
  if (refuse_if_exclusive_elsewhere(channel, method.queue, id)) return;
  registry_.note_use({vhost_, method.queue}, steady_now_ms());
  flush_publishes();
  flush_acks();
  pause();
  // get-ok carries the count of messages left: asked first, so that no message is ever held
  // by a callback that may outlive this connection.
  broker_.queue_info(
      vhost_, method.queue,
      on_answer<broker::QueueInfo>([channel = ref(channel), method, id](Connection& self, auto info) {
        if (!info) {
          self.channel_error(channel.id, info.error(), id);
          return self.resume();
        }
        self.receive_one(channel, method, info->stats.messages);
      }));
}

void Connection::receive_one(ChannelRef channel, const BasicGet& method, uint64_t ready_before) {
  broker::ReceiveRequest request;
  request.max_messages = 1;
  request.hold_until_settled = true;
  request.receipt_strings = false;
  broker_.receive(
      vhost_, method.queue, request,
      on_deliveries(method.queue, [channel, method, ready_before](Connection& self, auto result) {
        if (!result) {
          self.channel_error(channel.id, result.error(), {BasicGet::kClassId, BasicGet::kMethodId});
          return self.resume();
        }
        if (result->empty()) {
          if (self.find_channel(channel) != nullptr) self.send(channel.id, BasicGetEmpty{});
          return self.resume();
        }
        self.finish_get(channel, method, result->front(), ready_before > 0 ? ready_before - 1 : 0);
      }));
}

void Connection::finish_get(ChannelRef channel_ref, const BasicGet& method, broker::DeliveredMessage& message,
                            uint64_t remaining) {
  Channel* channel = find_channel(channel_ref);
  if (channel == nullptr) {
    std::vector<broker::DeliveredMessage> unwanted;
    unwanted.push_back(std::move(message));
    return_deliveries(broker_, vhost_, method.queue, unwanted);
    return resume();
  }
  const uint16_t channel_id = channel_ref.id;
  const uint64_t tag = channel->next_delivery_tag++;
  const bool from_http = message.properties.amqp_properties.empty();
  send(channel_id, BasicGetOk{tag, message.redelivered, message.properties.amqp_exchange,
                              from_http ? method.queue : message.properties.amqp_routing_key,
                              static_cast<uint32_t>(remaining)});
  write_content(outbox_, channel_id, delivery_properties(message), message.body, frame_max_);
  if (method.no_ack) {
    pending_acks_[method.queue].push_back(message.lease);
    flush_acks();
  } else {
    channel->unacked.emplace(
        tag,
        Unacked{std::make_shared<const DeliverySource>(DeliverySource{method.queue, ""}), message.lease});
  }
  resume();
}

std::vector<Connection::Unacked> Connection::take_unacked(Channel& channel, uint64_t tag, bool multiple,
                                                          bool& known) {
  std::vector<Unacked> taken;
  known = true;
  if (multiple) {
    auto end = tag == 0 ? channel.unacked.end() : channel.unacked.upper_bound(tag);
    for (auto it = channel.unacked.begin(); it != end;) {
      taken.push_back(std::move(it->second));
      it = channel.unacked.erase(it);
    }
    known = tag == 0 || !taken.empty() || tag < channel.next_delivery_tag;
  } else {
    auto found = channel.unacked.find(tag);
    if (found == channel.unacked.end()) {
      known = false;
      return taken;
    }
    taken.push_back(std::move(found->second));
    channel.unacked.erase(found);
  }
  for (const Unacked& unacked : taken) {
    if (unacked.source->consumer_tag.empty()) continue;
    auto consumer = channel.consumers.find(unacked.source->consumer_tag);
    if (consumer != channel.consumers.end() && consumer->second.unacked > 0) --consumer->second.unacked;
  }
  return taken;
}

namespace {

Error unknown_delivery_tag(uint16_t channel, uint64_t tag) {
  return Error(ErrorCode::kReceiptInvalid,
               fmt::format("delivery tag {} is not an unacknowledged delivery on channel {}", tag, channel),
               "ack each delivery once, with the tag it was delivered with, on the channel that received it");
}

}  // namespace

void Connection::basic_settle(Channel& channel, Settlement settlement, MethodId id) {
  if (channel.tx_mode) {
    channel.tx_settlements.push_back(settlement);
    return;
  }
  if (!apply_settlement(channel, settlement, id)) return;
  pump_all();
}

bool Connection::apply_settlement(Channel& channel, const Settlement& settlement, MethodId id,
                                  const TxWaitPtr& tx) {
  bool known = false;
  auto settled = take_unacked(channel, settlement.delivery_tag, settlement.multiple, known);
  if (!known) {
    channel_error(channel.id, unknown_delivery_tag(channel.id, settlement.delivery_tag), id);
    return false;
  }
  if (settlement.outcome != Outcome::kAck) flush_acks(tx);  // the broker sees them in order
  settle(std::move(settled), settlement.outcome, tx);
  return true;
}

std::optional<Error> Connection::unknown_tag(const Channel& channel,
                                             const std::vector<Settlement>& settlements) const {
  std::set<uint64_t> open;
  for (const auto& [tag, unacked] : channel.unacked) open.insert(tag);
  for (const Settlement& settlement : settlements) {
    if (settlement.multiple) {
      if (settlement.delivery_tag >= channel.next_delivery_tag) {
        return unknown_delivery_tag(channel.id, settlement.delivery_tag);
      }
      auto end = settlement.delivery_tag == 0 ? open.end() : open.upper_bound(settlement.delivery_tag);
      open.erase(open.begin(), end);
    } else if (open.erase(settlement.delivery_tag) == 0) {
      return unknown_delivery_tag(channel.id, settlement.delivery_tag);
    }
  }
  return std::nullopt;
}

void Connection::settle(std::vector<Unacked> settled, Outcome outcome, const TxWaitPtr& tx) {
  const bool requeue = outcome == Outcome::kNackRequeue;
  if (outcome == Outcome::kAck) {
    std::vector<broker::LeaseRef>* leases = nullptr;
    const DeliverySource* leases_source = nullptr;
    for (const Unacked& unacked : settled) {
      if (leases_source != unacked.source.get()) {  // one lookup per run of a consumer
        leases = &pending_acks_[unacked.source->queue];
        leases_source = unacked.source.get();
      }
      leases->push_back(unacked.lease);
    }
    return;
  }
  std::map<std::string, std::vector<broker::LeaseRef>> by_queue;
  for (const Unacked& unacked : settled) by_queue[unacked.source->queue].push_back(unacked.lease);
  for (auto& [queue, leases] : by_queue) {
    broker_.nack_leases(vhost_, queue, std::move(leases), requeue,
                        settle_answer(queue, requeue ? "nack" : "reject", tx));
  }
}

void Connection::flush_acks(const TxWaitPtr& tx) {
  if (pending_acks_.empty()) return;
  auto acks = std::move(pending_acks_);
  pending_acks_.clear();
  for (auto& [queue, leases] : acks)
    broker_.ack_leases(vhost_, queue, std::move(leases), settle_answer(queue, "ack", tx));
}

broker::Callback<broker::SettleOutcome> Connection::settle_answer(std::string queue, std::string_view what,
                                                                  TxWaitPtr tx) {
  if (tx) ++tx->outstanding;
  return on_answer<broker::SettleOutcome>([queue = std::move(queue), what, tx = std::move(tx)](
                                              Connection& self, auto result) {
    std::optional<Error> failure;
    if (!result) {
      failure = std::move(result).error().with_context(fmt::format("{} on queue \"{}\"", what, queue));
      if (!tx) {
        log::limited_event(log::Level::kWarn, what == "ack" ? "amqp.ack_failed" : "amqp.nack_failed",
                           {log::kv("peer", self.peer_), log::kv("queue", queue),
                            log::kv("code", failure->code_name()), log::kv("message", failure->message())});
      }
    }
    if (tx) self.tx_answered(tx, std::move(failure));
  });
}

void Connection::basic_recover(Channel& channel) {
  bool known = false;
  auto all = take_unacked(channel, 0, true, known);
  settle(std::move(all), Outcome::kNackRequeue);
}

void Connection::release_channel(Channel& channel) {
  bool known = false;
  auto unacked = take_unacked(channel, 0, true, known);
  flush_acks();
  settle(std::move(unacked), Outcome::kNackRequeue);
  for (auto& [tag, consumer] : channel.consumers) remove_consumer(channel, consumer);
  channel.consumers.clear();
  channel.content.reset();
  channel.tx_publishes.clear();
  channel.tx_settlements.clear();
}

}  // namespace ballast::amqp

#include "tracked_broker.h"

namespace ballast::fuzz {

void TrackedBroker::create_queue(std::string vhost, std::string name, broker::QueueSettings settings,
                                 broker::Callback<broker::CreateQueueOutcome> done) {
  inner_.create_queue(std::move(vhost), std::move(name), std::move(settings), track(std::move(done), calls_));
}

void TrackedBroker::delete_queue(std::string vhost, std::string name, broker::Callback<void> done) {
  inner_.delete_queue(std::move(vhost), std::move(name), track(std::move(done), calls_));
}

void TrackedBroker::purge_queue(std::string vhost, std::string name,
                                broker::Callback<broker::SettleOutcome> done) {
  inner_.purge_queue(std::move(vhost), std::move(name), track(std::move(done), calls_));
}

void TrackedBroker::list_queues(std::string vhost, broker::Callback<std::vector<broker::QueueInfo>> done) {
  inner_.list_queues(std::move(vhost), track(std::move(done), calls_));
}

void TrackedBroker::queue_info(std::string vhost, std::string name,
                               broker::Callback<broker::QueueInfo> done) {
  inner_.queue_info(std::move(vhost), std::move(name), track(std::move(done), calls_));
}

void TrackedBroker::publish(std::string vhost, std::string name, std::vector<broker::PublishRequest> messages,
                            broker::Callback<broker::PublishOutcome> done) {
  inner_.publish(std::move(vhost), std::move(name), std::move(messages), track(std::move(done), calls_));
}

void TrackedBroker::publish_routed(std::string vhost, std::vector<broker::RoutedMessage> messages,
                                   broker::Callback<std::vector<broker::RouteResult>> done) {
  inner_.publish_routed(std::move(vhost), std::move(messages), track(std::move(done), calls_));
}

void TrackedBroker::declare_exchange(std::string vhost, std::string name, broker::ExchangeSettings settings,
                                     bool passive, broker::Callback<void> done) {
  inner_.declare_exchange(std::move(vhost), std::move(name), settings, passive,
                          track(std::move(done), calls_));
}

void TrackedBroker::delete_exchange(std::string vhost, std::string name, bool if_unused,
                                    broker::Callback<void> done) {
  inner_.delete_exchange(std::move(vhost), std::move(name), if_unused, track(std::move(done), calls_));
}

void TrackedBroker::bind(std::string vhost, broker::Binding binding, broker::Callback<void> done) {
  inner_.bind(std::move(vhost), std::move(binding), track(std::move(done), calls_));
}

void TrackedBroker::unbind(std::string vhost, broker::Binding binding, broker::Callback<void> done) {
  inner_.unbind(std::move(vhost), std::move(binding), track(std::move(done), calls_));
}

void TrackedBroker::receive(std::string vhost, std::string name, broker::ReceiveRequest request,
                            broker::Callback<std::vector<broker::DeliveredMessage>> done) {
  auto& counter = request.wait_ms > 0 ? long_polls_ : calls_;
  inner_.receive(std::move(vhost), std::move(name), request, track(std::move(done), counter));
}

void TrackedBroker::cancel_receive(std::string vhost, std::string name, uint64_t waiter_id) {
  inner_.cancel_receive(std::move(vhost), std::move(name), waiter_id);
}

void TrackedBroker::ack(std::string vhost, std::string name, std::vector<std::string> receipts,
                        broker::Callback<broker::SettleOutcome> done) {
  inner_.ack(std::move(vhost), std::move(name), std::move(receipts), track(std::move(done), calls_));
}

void TrackedBroker::nack(std::string vhost, std::string name, std::vector<std::string> receipts, bool requeue,
                         broker::Callback<broker::SettleOutcome> done) {
  inner_.nack(std::move(vhost), std::move(name), std::move(receipts), requeue,
              track(std::move(done), calls_));
}

void TrackedBroker::ack_leases(std::string vhost, std::string name, std::vector<broker::LeaseRef> leases,
                               broker::Callback<broker::SettleOutcome> done) {
  inner_.ack_leases(std::move(vhost), std::move(name), std::move(leases), track(std::move(done), calls_));
}

void TrackedBroker::nack_leases(std::string vhost, std::string name, std::vector<broker::LeaseRef> leases,
                                bool requeue, broker::Callback<broker::SettleOutcome> done) {
  inner_.nack_leases(std::move(vhost), std::move(name), std::move(leases), requeue,
                     track(std::move(done), calls_));
}

void TrackedBroker::dead_letter_leases(std::string vhost, std::string name,
                                       std::vector<broker::LeaseRef> leases, std::string reason,
                                       broker::Callback<broker::SettleOutcome> done) {
  inner_.dead_letter_leases(std::move(vhost), std::move(name), std::move(leases), std::move(reason),
                            track(std::move(done), calls_));
}

void TrackedBroker::extend(std::string vhost, std::string name, std::vector<std::string> receipts,
                           uint32_t visibility_timeout_seconds,
                           broker::Callback<broker::SettleOutcome> done) {
  inner_.extend(std::move(vhost), std::move(name), std::move(receipts), visibility_timeout_seconds,
                track(std::move(done), calls_));
}

void TrackedBroker::peek(std::string vhost, std::string name, uint32_t max_messages,
                         broker::Callback<std::vector<broker::DeliveredMessage>> done) {
  inner_.peek(std::move(vhost), std::move(name), max_messages, track(std::move(done), calls_));
}

void TrackedBroker::store_plugin_settings(std::string plugin, std::string settings,
                                          broker::Callback<void> done) {
  inner_.store_plugin_settings(std::move(plugin), std::move(settings), track(std::move(done), calls_));
}

void TrackedBroker::stats(broker::Callback<broker::BrokerStats> done) {
  inner_.stats(track(std::move(done), calls_));
}

}  // namespace ballast::fuzz

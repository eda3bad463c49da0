#pragma once
// A Broker that forwards every call to another Broker and counts the calls it has not answered
// yet, so that a fuzz driver can wait until everything an input asked of the broker is done.
// Long polls (receive with wait_ms > 0) are counted apart: they may wait until cancelled.
// Thread-safe, as Broker: the counters are atomic; `answered` runs on whichever thread answers
// a call, after the caller's own callback, and must not block.
// Lifetime: `inner` must outlive this object; so must this object every callback it wraps.

#include <atomic>
#include <cstdint>
#include <functional>

#include "broker/broker.h"

namespace ballast::fuzz {

class TrackedBroker final : public broker::Broker {
 public:
  TrackedBroker(broker::Broker& inner, std::function<void()> answered)
      : inner_(inner), answered_(std::move(answered)) {}

  uint64_t unanswered_calls() const { return calls_.load(); }
  uint64_t unanswered_long_polls() const { return long_polls_.load(); }

  void set_publish_filter(broker::PublishFilter* filter) override { inner_.set_publish_filter(filter); }
  void set_store_triggers(broker::StoreTriggers* triggers) override { inner_.set_store_triggers(triggers); }
  void run() override { inner_.run(); }
  void stop() override { inner_.stop(); }
  void create_queue(std::string vhost, std::string name, broker::QueueSettings settings,
                    broker::Callback<broker::CreateQueueOutcome> done) override;
  void delete_queue(std::string vhost, std::string name, broker::Callback<void> done) override;
  void purge_queue(std::string vhost, std::string name,
                   broker::Callback<broker::SettleOutcome> done) override;
  void list_queues(std::string vhost, broker::Callback<std::vector<broker::QueueInfo>> done) override;
  void queue_info(std::string vhost, std::string name, broker::Callback<broker::QueueInfo> done) override;
  void publish(std::string vhost, std::string name, std::vector<broker::PublishRequest> messages,
               broker::Callback<broker::PublishOutcome> done) override;
  void publish_routed(std::string vhost, std::vector<broker::RoutedMessage> messages,
                      broker::Callback<std::vector<broker::RouteResult>> done) override;
  void declare_exchange(std::string vhost, std::string name, broker::ExchangeSettings settings, bool passive,
                        broker::Callback<void> done) override;
  void delete_exchange(std::string vhost, std::string name, bool if_unused,
                       broker::Callback<void> done) override;
  void bind(std::string vhost, broker::Binding binding, broker::Callback<void> done) override;
  void unbind(std::string vhost, broker::Binding binding, broker::Callback<void> done) override;
  void receive(std::string vhost, std::string name, broker::ReceiveRequest request,
               broker::Callback<std::vector<broker::DeliveredMessage>> done) override;
  void cancel_receive(std::string vhost, std::string name, uint64_t waiter_id) override;
  void ack(std::string vhost, std::string name, std::vector<std::string> receipts,
           broker::Callback<broker::SettleOutcome> done) override;
  void nack(std::string vhost, std::string name, std::vector<std::string> receipts, bool requeue,
            broker::Callback<broker::SettleOutcome> done) override;
  void ack_leases(std::string vhost, std::string name, std::vector<broker::LeaseRef> leases,
                  broker::Callback<broker::SettleOutcome> done) override;
  void nack_leases(std::string vhost, std::string name, std::vector<broker::LeaseRef> leases, bool requeue,
                   broker::Callback<broker::SettleOutcome> done) override;
  void dead_letter_leases(std::string vhost, std::string name, std::vector<broker::LeaseRef> leases,
                          std::string reason, broker::Callback<broker::SettleOutcome> done) override;
  void extend(std::string vhost, std::string name, std::vector<std::string> receipts,
              uint32_t visibility_timeout_seconds, broker::Callback<broker::SettleOutcome> done) override;
  void peek(std::string vhost, std::string name, uint32_t max_messages,
            broker::Callback<std::vector<broker::DeliveredMessage>> done) override;
  void stats(broker::Callback<broker::BrokerStats> done) override;
  void store_plugin_settings(std::string plugin, std::string settings, broker::Callback<void> done) override;
  std::map<std::string, std::string> recovered_plugin_settings() const override {
    return inner_.recovered_plugin_settings();
  }
  broker::HealthReport health() const override { return inner_.health(); }

 private:
  // Counts one call on `counter` until `done` has run.
  template <typename T>
  broker::Callback<T> track(broker::Callback<T> done, std::atomic<uint64_t>& counter) {
    counter.fetch_add(1);
    return [this, &counter, done = std::move(done)](Result<T> result) {
      done(std::move(result));
      counter.fetch_sub(1);
      answered_();
    };
  }

  broker::Broker& inner_;
  const std::function<void()> answered_;
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> long_polls_{0};
};

}  // namespace ballast::fuzz

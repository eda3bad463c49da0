// Connection: tx.commit. A commit's publishes are one atomic journal commit; its acks, nacks
// and rejects are handed to the broker in the order they were sent. tx.commit-ok is sent only
// when the broker has answered every one of those calls, i.e. when all of it is durable; the
// first failure closes the channel with its Ballast code instead.
#include "fmt/format.h"
#include "protocol/amqp091/connection.h"

namespace ballast::amqp {
namespace {

constexpr MethodId kTxCommitId{TxCommit::kClassId, TxCommit::kMethodId};

}  // namespace

void Connection::tx_commit(Channel& channel) {
  flush_publishes();
  // Every tag is checked before any settlement is applied: a commit is all or nothing.
  if (auto unknown = unknown_tag(channel, channel.tx_settlements)) {
    channel_error(channel.id, *unknown, kTxCommitId);
    return;
  }
  flush_acks();  // acks of other channels read before this commit reach the broker first
  auto tx = std::make_shared<TxCommitWait>();
  tx->channel = ref(channel);
  std::vector<OutgoingPublish> publishes = std::move(channel.tx_publishes);
  channel.tx_publishes.clear();
  if (!publishes.empty()) tx_publish(tx, std::move(publishes));
  for (const Settlement& settlement : channel.tx_settlements)
    apply_settlement(channel, settlement, kTxCommitId, tx);
  channel.tx_settlements.clear();
  flush_acks(tx);
  pump_all();  // the settled deliveries no longer count against prefetch
  pause();
  tx_answered(tx, std::nullopt);  // drops the guard: every call has been made
}

void Connection::tx_publish(const TxWaitPtr& tx, std::vector<OutgoingPublish> batch) {
  auto messages = routed_messages(batch);
  ++tx->outstanding;
  broker_.publish_routed(
      vhost_, std::move(messages),
      on_answer<std::vector<broker::RouteResult>>(
          [tx, batch = std::make_shared<std::vector<OutgoingPublish>>(std::move(batch))](
              Connection& self, auto result) { self.tx_published(tx, *batch, std::move(result)); }));
}

void Connection::tx_published(const TxWaitPtr& tx, std::vector<OutgoingPublish>& batch,
                              Result<std::vector<broker::RouteResult>> result) {
  std::optional<Error> failure;
  size_t stored = 0;
  if (!result) {
    failure = result.error();
  } else {
    for (const broker::RouteResult& routed : *result) {
      if (routed.refused && !failure) failure = routed.refused;
      if (!routed.refused) ++stored;
    }
  }
  on_published(batch, std::move(result));
  if (failure) {
    // Never a silent drop: the client learns which message was refused and how many went in.
    failure =
        Error(failure->code(),
              fmt::format("tx.commit stored {} of {} messages: {}", stored, batch.size(), failure->message()),
              failure->fix());
  }
  tx_answered(tx, std::move(failure));
}

void Connection::tx_answered(const TxWaitPtr& tx, std::optional<Error> failure) {
  if (failure && !tx->failure) tx->failure = std::move(failure);
  if (--tx->outstanding > 0) return;
  // Null once the channel closed meanwhile (on_published closes it for an unknown exchange).
  if (find_channel(tx->channel) != nullptr) {
    if (tx->failure) {
      channel_error(tx->channel.id, *tx->failure, kTxCommitId);
    } else {
      send(tx->channel.id, TxCommitOk{});
    }
  }
  resume();
}

}  // namespace ballast::amqp

#include "broker/queue.h"

#include <algorithm>

#include "util/check.h"

namespace ballast::broker {

Queue::Queue(uint64_t id, std::string vhost, std::string name, QueueSettings settings)
    : id_(id), vhost_(std::move(vhost)), name_(std::move(name)), settings_(std::move(settings)) {}

void Queue::count(const MessageEntry& entry, int sign) {
  const auto adjust = [sign](uint64_t& counter, uint64_t amount) {
    counter = sign > 0 ? counter + amount : counter - amount;
  };
  switch (entry.state) {
    case EntryState::kPending:
      adjust(pending_, 1);
      adjust(backlog_bytes_, entry.body_bytes);
      break;
    case EntryState::kReady:
      adjust(ready_, 1);
      adjust(backlog_bytes_, entry.body_bytes);
      adjust(total_bytes_, entry.body_bytes);
      break;
    case EntryState::kDelayed:
      adjust(delayed_, 1);
      adjust(backlog_bytes_, entry.body_bytes);
      adjust(total_bytes_, entry.body_bytes);
      break;
    case EntryState::kLeased:
      adjust(leased_, 1);
      adjust(total_bytes_, entry.body_bytes);
      break;
    case EntryState::kSettling:
      adjust(settling_, 1);
      break;
  }
}

void Queue::set_state(MessageEntry& entry, EntryState state) {
  count(entry, -1);
  entry.state = state;
  count(entry, +1);
}

void Queue::insert_ready(const MessageEntry& entry) {
  auto& order = ready_order_[std::min<uint8_t>(entry.priority, 9)];
  if (order.empty() || entry.key > order.back()) {
    order.push_back(entry.key);
  } else if (entry.key < order.front()) {
    order.push_front(entry.key);
  } else {
    order.insert(std::lower_bound(order.begin(), order.end(), entry.key), entry.key);
  }
}

void Queue::add(const MessageEntry& entry) {
  BALLAST_CHECK(!entries_.contains(entry.key), "message key {} added twice to queue {}", entry.key, name_);
  MessageEntry& stored = entries_[entry.key] = entry;
  count(stored, +1);
  if (stored.state == EntryState::kReady) insert_ready(stored);
  if (stored.state == EntryState::kDelayed) delayed_order_.emplace(stored.deliver_at_ms, stored.key);
  if (stored.expires_at_ms != 0) expiry_order_.emplace(stored.expires_at_ms, stored.key);
}

void Queue::make_visible(uint64_t key, int64_t now_wall_ms) {
  MessageEntry* entry = find(key);
  if (entry == nullptr || entry->state != EntryState::kPending) return;
  if (entry->deliver_at_ms > now_wall_ms) {
    set_state(*entry, EntryState::kDelayed);
    delayed_order_.emplace(entry->deliver_at_ms, key);
  } else {
    set_state(*entry, EntryState::kReady);
    insert_ready(*entry);
  }
}

void Queue::remove(uint64_t key) {
  auto found = entries_.find(key);
  if (found == entries_.end()) return;
  const MessageEntry& entry = found->second;
  if (entry.state == EntryState::kDelayed) delayed_order_.erase({entry.deliver_at_ms, key});
  if (entry.expires_at_ms != 0) expiry_order_.erase({entry.expires_at_ms, key});
  drop_lease(key);
  count(entry, -1);
  entries_.erase(found);
}

MessageEntry* Queue::find(uint64_t key) {
  auto found = entries_.find(key);
  return found == entries_.end() ? nullptr : &found->second;
}

std::optional<uint64_t> Queue::pop_ready() {
  for (int priority = 9; priority >= 0; --priority) {
    auto& order = ready_order_[static_cast<size_t>(priority)];
    while (!order.empty()) {
      const uint64_t key = order.front();
      order.pop_front();
      const MessageEntry* entry = find(key);
      if (entry != nullptr && entry->state == EntryState::kReady) return key;
    }
  }
  return std::nullopt;
}

std::vector<uint64_t> Queue::peek_ready(size_t max) const {
  std::vector<uint64_t> keys;
  for (int priority = 9; priority >= 0 && keys.size() < max; --priority) {
    for (uint64_t key : ready_order_[static_cast<size_t>(priority)]) {
      if (keys.size() >= max) break;
      auto found = entries_.find(key);
      if (found != entries_.end() && found->second.state == EntryState::kReady) keys.push_back(key);
    }
  }
  return keys;
}

void Queue::lease(uint64_t key, Lease lease) {
  MessageEntry* entry = find(key);
  BALLAST_CHECK(entry != nullptr, "lease of unknown key {}", key);
  drop_lease(key);
  set_state(*entry, EntryState::kLeased);
  leases_[key] = lease;
  // A lease held until settled (AMQP) never expires: it needs no place in the expiry order.
  if (lease.deadline_monotonic_ms != kNeverExpires) lease_order_.emplace(lease.deadline_monotonic_ms, key);
}

const Lease* Queue::find_lease(uint64_t key) const {
  auto found = leases_.find(key);
  return found == leases_.end() ? nullptr : &found->second;
}

void Queue::extend_lease(uint64_t key, int64_t deadline_monotonic_ms) {
  auto found = leases_.find(key);
  if (found == leases_.end()) return;
  lease_order_.erase({found->second.deadline_monotonic_ms, key});
  found->second.deadline_monotonic_ms = deadline_monotonic_ms;
  if (deadline_monotonic_ms != kNeverExpires) lease_order_.emplace(deadline_monotonic_ms, key);
}

void Queue::drop_lease(uint64_t key) {
  auto found = leases_.find(key);
  if (found == leases_.end()) return;
  lease_order_.erase({found->second.deadline_monotonic_ms, key});
  leases_.erase(found);
}

void Queue::requeue(uint64_t key) {
  MessageEntry* entry = find(key);
  if (entry == nullptr) return;
  drop_lease(key);
  set_state(*entry, EntryState::kReady);
  insert_ready(*entry);
}

void Queue::begin_settle(uint64_t key) {
  MessageEntry* entry = find(key);
  if (entry == nullptr) return;
  if (entry->state == EntryState::kDelayed) delayed_order_.erase({entry->deliver_at_ms, key});
  drop_lease(key);
  set_state(*entry, EntryState::kSettling);
}

void Queue::abort_settle(uint64_t key, EntryState back_to) {
  MessageEntry* entry = find(key);
  if (entry == nullptr || entry->state != EntryState::kSettling) return;
  BALLAST_CHECK(back_to == EntryState::kReady, "a failed settle goes back to ready");
  set_state(*entry, back_to);
  insert_ready(*entry);
}

std::vector<uint64_t> Queue::expired_leases(int64_t now_monotonic_ms) const {
  std::vector<uint64_t> keys;
  for (const auto& [deadline, key] : lease_order_) {
    if (deadline > now_monotonic_ms) break;
    keys.push_back(key);
  }
  return keys;
}

size_t Queue::release_due(int64_t now_wall_ms) {
  size_t released = 0;
  while (!delayed_order_.empty() && delayed_order_.begin()->first <= now_wall_ms) {
    const uint64_t key = delayed_order_.begin()->second;
    delayed_order_.erase(delayed_order_.begin());
    MessageEntry* entry = find(key);
    if (entry == nullptr || entry->state != EntryState::kDelayed) continue;
    set_state(*entry, EntryState::kReady);
    insert_ready(*entry);
    ++released;
  }
  return released;
}

std::vector<uint64_t> Queue::expired_messages(int64_t now_wall_ms) const {
  std::vector<uint64_t> keys;
  for (const auto& [deadline, key] : expiry_order_) {
    if (deadline > now_wall_ms) break;
    auto found = entries_.find(key);
    if (found == entries_.end()) continue;
    const EntryState state = found->second.state;
    if (state == EntryState::kReady || state == EntryState::kDelayed) keys.push_back(key);
  }
  return keys;
}

std::optional<uint64_t> Queue::oldest_ready() const {
  auto keys = peek_ready(1);
  if (keys.empty()) return std::nullopt;
  return keys.front();
}

std::vector<uint64_t> Queue::ready_and_delayed() const {
  std::vector<uint64_t> keys;
  for (const auto& [key, entry] : entries_) {
    if (entry.state == EntryState::kReady || entry.state == EntryState::kDelayed) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool Queue::is_duplicate(const std::string& message_id, int64_t now_wall_ms) {
  const int64_t window_ms = static_cast<int64_t>(settings_.dedup_window_seconds) * 1000;
  while (!recent_id_order_.empty() && recent_id_order_.front().first <= now_wall_ms - window_ms) {
    auto& [stamp, id] = recent_id_order_.front();
    auto found = recent_ids_.find(id);
    if (found != recent_ids_.end() && found->second == stamp) recent_ids_.erase(found);
    recent_id_order_.pop_front();
  }
  return recent_ids_.contains(message_id);
}

void Queue::remember_id(const std::string& message_id, int64_t now_wall_ms) {
  if (settings_.dedup_window_seconds == 0) return;
  recent_ids_[message_id] = now_wall_ms;
  recent_id_order_.emplace_back(now_wall_ms, message_id);
}

void Queue::forget_id(const std::string& message_id, int64_t now_wall_ms) {
  auto found = recent_ids_.find(message_id);
  if (found != recent_ids_.end() && found->second == now_wall_ms) recent_ids_.erase(found);
}

}  // namespace ballast::broker

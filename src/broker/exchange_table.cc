#include "broker/exchange_table.h"

#include <algorithm>
#include <set>

#include "fmt/format.h"
#include "util/bytes.h"

namespace ballast::broker {
namespace {

constexpr uint8_t kEncodingVersion = 1;

struct Predeclared {
  const char* name;
  ExchangeType type;
};
constexpr Predeclared kPredeclared[] = {
    {"amq.direct", ExchangeType::kDirect}, {"amq.fanout", ExchangeType::kFanout},
    {"amq.topic", ExchangeType::kTopic},   {"amq.headers", ExchangeType::kHeaders},
    {"amq.match", ExchangeType::kHeaders},
};

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  if (text.empty()) return words;  // RabbitMQ: the empty key has no words, so `*` cannot match it
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    words.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return words;
    start = dot + 1;
  }
}

// Dynamic programming over (pattern word, key word): O(pattern x key), whatever the number of
// `#` (a backtracking matcher is exponential in them, which a client could use to stall the
// broker thread). reachable[k] = the first p pattern words can match the first k key words.
bool match_words(const std::vector<std::string_view>& pattern, const std::vector<std::string_view>& key) {
  std::vector<char> reachable(key.size() + 1, 0);
  reachable[0] = 1;
  for (std::string_view word : pattern) {
    std::vector<char> next(key.size() + 1, 0);
    if (word == "#") {
      char any = 0;
      for (size_t k = 0; k <= key.size(); ++k) {
        any = any || reachable[k];
        next[k] = any;  // `#` takes zero or more words
      }
    } else {
      for (size_t k = 0; k < key.size(); ++k) {
        if (reachable[k] && (word == "*" || word == key[k])) next[k + 1] = 1;
      }
    }
    reachable = std::move(next);
  }
  return reachable[key.size()] != 0;
}

Error not_found(std::string_view vhost, std::string_view name) {
  return Error(ErrorCode::kNotFound,
               fmt::format("exchange \"{}\" does not exist in vhost \"{}\"", name, vhost),
               "declare the exchange first (exchange.declare), or publish to an existing one");
}

void put_pairs(ByteWriter& writer, const std::vector<std::pair<std::string, std::string>>& pairs) {
  writer.u32(static_cast<uint32_t>(pairs.size()));
  for (const auto& [key, value] : pairs) {
    writer.str(key);
    writer.str(value);
  }
}

bool get_pairs(ByteReader& reader, std::vector<std::pair<std::string, std::string>>& pairs) {
  uint32_t count = 0;
  if (!reader.u32(count)) return false;
  for (uint32_t i = 0; i < count; ++i) {
    std::string key, value;
    if (!reader.str(key) || !reader.str(value)) return false;
    pairs.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

}  // namespace

std::string_view exchange_type_name(ExchangeType type) {
  switch (type) {
    case ExchangeType::kDirect:
      return "direct";
    case ExchangeType::kFanout:
      return "fanout";
    case ExchangeType::kTopic:
      return "topic";
    case ExchangeType::kHeaders:
      return "headers";
  }
  return "direct";
}

std::optional<ExchangeType> parse_exchange_type(std::string_view name) {
  for (ExchangeType type :
       {ExchangeType::kDirect, ExchangeType::kFanout, ExchangeType::kTopic, ExchangeType::kHeaders}) {
    if (exchange_type_name(type) == name) return type;
  }
  return std::nullopt;
}

bool topic_matches(std::string_view pattern, std::string_view routing_key) {
  return match_words(split_words(pattern), split_words(routing_key));
}

bool headers_match(const std::vector<std::pair<std::string, std::string>>& arguments,
                   const std::vector<std::pair<std::string, std::string>>& headers) {
  bool match_any = false;
  size_t wanted = 0, matched = 0;
  for (const auto& [key, value] : arguments) {
    if (key == "x-match") {
      match_any = value == "any" || value == "any-with-x";
      continue;
    }
    if (key.starts_with("x-")) continue;
    ++wanted;
    auto found =
        std::find_if(headers.begin(), headers.end(), [&](const auto& header) { return header.first == key; });
    // An empty binding value (AMQP void) matches any value of a present header.
    if (found != headers.end() && (value.empty() || found->second == value)) ++matched;
  }
  return match_any ? matched > 0 : matched == wanted;
}

ExchangeTable::ExchangeTable() {
  for (const Predeclared& exchange : kPredeclared) {
    exchanges_[exchange.name] = Exchange{ExchangeSettings{exchange.type, true, false, false}, {}};
  }
}

bool ExchangeTable::predeclared(const std::string& name) {
  return name.empty() || std::any_of(std::begin(kPredeclared), std::end(kPredeclared),
                                     [&](const Predeclared& exchange) { return name == exchange.name; });
}

const ExchangeSettings* ExchangeTable::find(const std::string& name) const {
  auto found = exchanges_.find(name);
  return found == exchanges_.end() ? nullptr : &found->second.settings;
}

Status ExchangeTable::declare(const std::string& vhost, const std::string& name,
                              const ExchangeSettings& settings, bool& changed) {
  changed = false;
  if (name.empty() || name.size() > 255) {
    return Error(
        ErrorCode::kAccessRefused,
        fmt::format("exchange name \"{}\" cannot be declared (the default exchange is built in; names are "
                    "1-255 bytes)",
                    name),
        "choose a name of 1 to 255 bytes");
  }
  auto found = exchanges_.find(name);
  if (found != exchanges_.end()) {
    const ExchangeSettings& current = found->second.settings;
    std::vector<std::string> differing;
    if (current.type != settings.type)
      differing.emplace_back(fmt::format("type (is {})", exchange_type_name(current.type)));
    if (!predeclared(name)) {
      if (current.durable != settings.durable) differing.emplace_back("durable");
      if (current.auto_delete != settings.auto_delete) differing.emplace_back("auto_delete");
      if (current.internal != settings.internal) differing.emplace_back("internal");
    }
    if (differing.empty()) return ok_status();
    return Error(ErrorCode::kQueueExistsDifferent,
                 fmt::format("exchange \"{}\" (vhost \"{}\") already exists with different {}", name, vhost,
                             fmt::join(differing, ", ")),
                 "declare it with its current settings, or delete it first");
  }
  if (name.starts_with("amq.")) {
    return Error(ErrorCode::kAccessRefused,
                 fmt::format("exchange name \"{}\" starts with \"amq.\", which is reserved", name),
                 "choose a name that does not start with \"amq.\"");
  }
  exchanges_[name] = Exchange{settings, {}};
  changed = true;
  return ok_status();
}

Status ExchangeTable::remove(const std::string& vhost, const std::string& name, bool if_unused) {
  if (predeclared(name)) {
    return Error(ErrorCode::kAccessRefused,
                 fmt::format("exchange \"{}\" is built in and cannot be deleted", name),
                 "delete only exchanges you declared");
  }
  auto found = exchanges_.find(name);
  if (found == exchanges_.end()) return not_found(vhost, name);
  if (if_unused && !found->second.bindings.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("exchange \"{}\" has {} bindings and if-unused is set", name,
                             found->second.bindings.size()),
                 "unbind its queues first, or delete without if-unused");
  }
  exchanges_.erase(found);
  return ok_status();
}

Status ExchangeTable::bind(const std::string& vhost, const Binding& binding, bool& changed) {
  changed = false;
  if (binding.exchange.empty()) {
    return Error(ErrorCode::kAccessRefused,
                 "the default exchange cannot be bound: it routes to every queue by name",
                 "bind to amq.direct or an exchange you declared");
  }
  auto found = exchanges_.find(binding.exchange);
  if (found == exchanges_.end()) return not_found(vhost, binding.exchange);
  auto& bindings = found->second.bindings;
  if (std::find(bindings.begin(), bindings.end(), binding) != bindings.end()) return ok_status();
  bindings.push_back(binding);
  changed = true;
  return ok_status();
}

Status ExchangeTable::unbind(const std::string& vhost, const Binding& binding, bool& changed) {
  changed = false;
  auto found = exchanges_.find(binding.exchange);
  if (found == exchanges_.end()) return not_found(vhost, binding.exchange);
  auto& bindings = found->second.bindings;
  auto it = std::find(bindings.begin(), bindings.end(), binding);
  if (it == bindings.end()) return ok_status();  // RabbitMQ: unbinding what is not bound succeeds
  bindings.erase(it);
  changed = true;
  if (bindings.empty() && found->second.settings.auto_delete) exchanges_.erase(found);
  return ok_status();
}

bool ExchangeTable::forget_queue(const std::string& queue) {
  bool any = false;
  for (auto it = exchanges_.begin(); it != exchanges_.end();) {
    auto& bindings = it->second.bindings;
    const size_t removed =
        std::erase_if(bindings, [&](const Binding& binding) { return binding.queue == queue; });
    any = any || removed > 0;
    if (removed > 0 && bindings.empty() && it->second.settings.auto_delete) {
      it = exchanges_.erase(it);
    } else {
      ++it;
    }
  }
  return any;
}

std::vector<std::string> ExchangeTable::route(
    const std::string& exchange, const std::string& routing_key,
    const std::vector<std::pair<std::string, std::string>>& headers) const {
  std::vector<std::string> queues;
  auto found = exchanges_.find(exchange);
  if (found == exchanges_.end()) return queues;
  const ExchangeType type = found->second.settings.type;
  for (const Binding& binding : found->second.bindings) {
    bool matches = false;
    switch (type) {
      case ExchangeType::kDirect:
        matches = binding.routing_key == routing_key;
        break;
      case ExchangeType::kFanout:
        matches = true;
        break;
      case ExchangeType::kTopic:
        matches = topic_matches(binding.routing_key, routing_key);
        break;
      case ExchangeType::kHeaders:
        matches = headers_match(binding.arguments, headers);
        break;
    }
    if (matches && std::find(queues.begin(), queues.end(), binding.queue) == queues.end()) {
      queues.push_back(binding.queue);
    }
  }
  return queues;
}

std::string ExchangeTable::encode() const {
  std::string out;
  ByteWriter writer(out);
  writer.u8(kEncodingVersion);
  writer.u32(static_cast<uint32_t>(exchanges_.size()));
  for (const auto& [name, exchange] : exchanges_) {
    writer.str(name);
    writer.u8(static_cast<uint8_t>(exchange.settings.type));
    writer.u8(static_cast<uint8_t>((exchange.settings.durable ? 1 : 0) |
                                   (exchange.settings.auto_delete ? 2 : 0) |
                                   (exchange.settings.internal ? 4 : 0)));
    writer.u32(static_cast<uint32_t>(exchange.bindings.size()));
    for (const Binding& binding : exchange.bindings) {
      writer.str(binding.queue);
      writer.str(binding.routing_key);
      put_pairs(writer, binding.arguments);
    }
  }
  return out;
}

bool ExchangeTable::decode(std::string_view encoded, bool after_restart) {
  ByteReader reader(encoded);
  uint8_t version = 0;
  uint32_t count = 0;
  if (!reader.u8(version) || version != kEncodingVersion || !reader.u32(count)) return false;
  std::map<std::string, Exchange> decoded;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name;
    uint8_t type = 0, flags = 0;
    uint32_t binding_count = 0;
    if (!reader.str(name) || !reader.u8(type) || !reader.u8(flags) || !reader.u32(binding_count))
      return false;
    if (type < 1 || type > 4) return false;
    Exchange exchange{ExchangeSettings{static_cast<ExchangeType>(type), (flags & 1) != 0, (flags & 2) != 0,
                                       (flags & 4) != 0},
                      {}};
    for (uint32_t b = 0; b < binding_count; ++b) {
      Binding binding;
      binding.exchange = name;
      if (!reader.str(binding.queue) || !reader.str(binding.routing_key) ||
          !get_pairs(reader, binding.arguments)) {
        return false;
      }
      exchange.bindings.push_back(std::move(binding));
    }
    if (after_restart && !exchange.settings.durable) continue;
    decoded[name] = std::move(exchange);
  }
  exchanges_ = std::move(decoded);
  for (const Predeclared& exchange : kPredeclared) {
    exchanges_.try_emplace(exchange.name, Exchange{ExchangeSettings{exchange.type, true, false, false}, {}});
  }
  return true;
}

}  // namespace ballast::broker

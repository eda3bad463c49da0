#pragma once
// ballastd's configuration: every key, its default, its sources and whether SIGHUP reloads it
// (docs/configuration.md). Precedence: command-line flags > environment (BALLAST_<SECTION>_<KEY>)
// > TOML file (--config FILE or BALLAST_CONFIG) > defaults. Loading reports every problem at
// once (unknown keys with the nearest valid one, wrong types, out-of-range values), each naming
// its source: file:line, environment variable or flag.
// Thread-safe: plain values and pure functions.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "plugins/plugin_config.h"
#include "protocol/amqp091/amqp_server.h"
#include "protocol/http/http_server.h"
#include "util/result.h"

namespace ballast::ops {

struct Config {
  // [server]
  std::string http_listen = "127.0.0.1:8080";
  bool insecure_remote = false;
  uint64_t http_threads = 1;
  std::string log_level = "info";  // reloadable
  std::string user;                // the user ballastd runs as; empty = whoever starts it
  // [storage]
  std::string data_dir = "./var/ballast";
  uint64_t segment_size = 64ull << 20;
  std::string sync_mode = "always";
  uint64_t sync_interval_ms = 200;
  uint64_t commit_window_us = 500;
  uint64_t self_check_interval_ms = 5000;
  uint64_t reserve_bytes = 64ull << 20;
  uint64_t checkpoint_interval_ms = 30000;
  uint64_t read_cache_bytes = 64ull << 20;
  // [limits]
  uint64_t max_message_bytes = 16ull << 20;
  uint64_t max_request_bytes = 32ull << 20;
  uint64_t http_header_timeout_ms = 10000;
  uint64_t http_body_timeout_ms = 30000;
  uint64_t max_long_polls = 1024;
  uint64_t max_disk_bytes = 0;    // 0 = off
  uint64_t max_memory_bytes = 0;  // 0 = off
  // [amqp]
  std::string amqp_listen = "127.0.0.1:5672";  // comma-separated; empty = AMQP off
  uint64_t amqp_heartbeat_seconds = 60;
  uint64_t amqp_frame_max = 131072;
  uint64_t amqp_channel_max = 2047;
  uint64_t amqp_publish_timeout_ms = 30000;

  // [[plugins]] (docs/plugins.md): from the file only; a change needs a restart.
  std::vector<plugins::PluginConfig> plugins;

  std::string config_file;  // where the file layer came from; empty = none
};

// A value given for a key by a flag: "storage.data_dir" -> "/srv/ballast".
using FlagValues = std::map<std::string, std::string>;
// Reads an environment variable; empty optional when unset.
using EnvironmentReader = std::function<std::optional<std::string>(const std::string& name)>;

// Loads the configuration. `config_file` empty = BALLAST_CONFIG if set, else no file.
// Fails with CONFIG_INVALID whose message lists every problem, one per line.
Result<Config> load_config(const std::string& config_file, const FlagValues& flags,
                           const EnvironmentReader& environment);

// What load_config() builds before it decides: every valid value applied (a refused value
// leaves the default), and each problem as one line naming its source. Lets the start-up
// checks report the configuration's problems together with everything else.
struct ConfigDraft {
  Config config;
  std::vector<std::string> problems;
};
ConfigDraft load_config_draft(const std::string& config_file, const FlagValues& flags,
                              const EnvironmentReader& environment);

// The CONFIG_INVALID error for a draft's problems (one per line).
Error config_problems_error(const std::vector<std::string>& problems);

// Every key ("section.key") with whether SIGHUP applies it.
std::vector<std::pair<std::string, bool>> config_keys();

// The keys whose values differ between `a` and `b` ("plugins" for any change of [[plugins]]).
std::vector<std::string> changed_keys(const Config& a, const Config& b);

broker::BrokerOptions to_broker_options(const Config& config);
http::HttpServerOptions to_http_options(const Config& config);
// amqp.listen split at commas; empty = no AMQP listener.
amqp::AmqpServerOptions to_amqp_options(const Config& config);

}  // namespace ballast::ops

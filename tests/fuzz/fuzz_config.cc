// libFuzzer target: the TOML configuration file (ops/config.h). The input is written to a
// scratch file and loaded with no flags and an empty environment, as `ballastd --config FILE`.
// Invariants: nothing throws, aborts or reads out of bounds; a refused file is one
// CONFIG_INVALID error (R1) with a fix, whose every problem line names the file (path:line) or
// the config key at fault; an accepted file converts to every component's options.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "ops/config.h"
#include "util/check.h"

namespace ballast::fuzz {
namespace {

// The scratch file each input is written to, removed when the process exits normally.
class ScratchFile {
 public:
  ScratchFile() {
    char pattern[] = "/tmp/ballast-fuzz-config-XXXXXX";
    const int fd = ::mkstemp(pattern);
    BALLAST_CHECK(fd >= 0, "cannot create a scratch file in /tmp");
    ::close(fd);
    path_ = pattern;
  }
  ~ScratchFile() { std::filesystem::remove(path_); }

  void write(std::string_view contents) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    BALLAST_CHECK(out.good(), "cannot write the scratch file {}", path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void check_refusal(const Error& error, const std::string& path) {
  BALLAST_CHECK(error.code() == ErrorCode::kConfigInvalid, "config refused with {}", error.describe());
  BALLAST_CHECK(!error.fix().empty(), "CONFIG_INVALID without a fix");
  const std::string& message = error.message();
  size_t start = message.find('\n');
  BALLAST_CHECK(start != std::string::npos, "CONFIG_INVALID lists no problem: {}", message);
  while (start != std::string::npos) {
    const size_t end = message.find('\n', start + 1);
    const std::string_view line =
        std::string_view(message).substr(start + 1, end == std::string::npos ? end : end - start - 1);
    const bool names_file = line.starts_with("  " + path + ":");
    const bool names_key = line.starts_with("  storage.segment_size = ");
    BALLAST_CHECK(names_file || names_key, "a config problem names neither file nor key: {}", line);
    start = end;
  }
}

void check_accepted(const ops::Config& config) {
  BALLAST_CHECK(ops::changed_keys(config, config).empty(), "a config differs from itself");
  const broker::BrokerOptions broker = ops::to_broker_options(config);
  BALLAST_CHECK(broker.segment_bytes >= broker.max_message_bytes,
                "segment_size {} below max_message_bytes {}", broker.segment_bytes, broker.max_message_bytes);
  BALLAST_CHECK(ops::to_http_options(config).threads >= 1, "server.http_threads = 0 was accepted");
  for (const std::string& address : ops::to_amqp_options(config).listen) {
    BALLAST_CHECK(!address.empty(), "amqp.listen = \"{}\" gave an empty address", config.amqp_listen);
  }
}

}  // namespace
}  // namespace ballast::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  static const fuzz::ScratchFile file;
  file.write(std::string_view(reinterpret_cast<const char*>(data), size));
  const auto no_environment = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  const Result<ops::Config> config = ops::load_config(file.path(), {}, no_environment);
  if (config) {
    fuzz::check_accepted(*config);
  } else {
    fuzz::check_refusal(config.error(), file.path());
  }
  return 0;
}

#include "scratch_broker.h"

#include <stdlib.h>

#include "util/check.h"
#include "util/log.h"

namespace ballast::fuzz {

ScratchBroker::ScratchBroker() {
  // Per-input events would drown libFuzzer's output; they are still formatted, so their code
  // runs. A failed BALLAST_CHECK still reaches stderr.
  log::set_sink([](std::string_view) {});
  open();
}

ScratchBroker::~ScratchBroker() {
  close();
  log::set_sink({});
}

broker::Broker& ScratchBroker::next_input() {
  if (++inputs_ % kInputsPerBroker == 0) {
    close();
    open();
  }
  return *broker_;
}

void ScratchBroker::open() {
  char pattern[] = "/tmp/ballast-fuzz-XXXXXX";
  BALLAST_CHECK(::mkdtemp(pattern) != nullptr, "cannot create a temporary directory in /tmp");
  dir_ = pattern;
  broker::BrokerOptions options;
  options.data_dir = (dir_ / "data").string();
  options.segment_bytes = 1u << 20;
  options.sync_mode = broker::SyncMode::kInterval;
  options.sync_interval_ms = 1000;
  options.reserve_bytes = 0;
  options.max_message_bytes = kMaxMessageBytes;
  options.read_cache_bytes = 1u << 20;
  auto opened = broker::Broker::open(options);
  BALLAST_CHECK(opened.ok(), "the fuzz broker does not open: {}", opened.error().describe());
  broker_ = std::move(*opened);
  broker_->run();
}

void ScratchBroker::close() {
  if (broker_) broker_->stop();
  broker_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace ballast::fuzz

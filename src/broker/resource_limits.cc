#include "broker/resource_limits.h"

#include <filesystem>

#include "util/log.h"
#include "util/process_memory.h"

namespace ballast::broker {

bool is_broker_limit(ErrorCode code) {
  return code == ErrorCode::kBrokerDiskLimit || code == ErrorCode::kBrokerMemoryLimit;
}

ResourceLimits::ResourceLimits(ResourceLimitOptions options, MemoryProbe probe)
    : options_(std::move(options)), probe_(std::move(probe)) {
  if (!probe_) probe_ = [] { return resident_memory_bytes(); };
}

std::optional<Error> ResourceLimits::refusal(const storage::Journal& journal) const {
  if (options_.max_disk_bytes != 0) {
    if (auto error = disk_refusal(journal_bytes_in_use(journal))) return error;
  }
  return memory_refusal();
}

void ResourceLimits::observe(const storage::Journal& journal) {
  if (options_.max_disk_bytes != 0) observe_disk(journal_bytes_in_use(journal));
  if (options_.max_memory_bytes != 0) sample_memory();
}

uint64_t ResourceLimits::journal_bytes_in_use(const storage::Journal& journal) const {
  return journal.stats().segments * options_.segment_bytes;
}

uint64_t ResourceLimits::disk_resume_bytes() const {
  const uint64_t margin = kDiskResumeSegments * options_.segment_bytes;
  return options_.max_disk_bytes > margin ? options_.max_disk_bytes - margin : 0;
}

std::optional<Error> ResourceLimits::disk_refusal(uint64_t used_bytes) const {
  const bool reached = used_bytes >= options_.max_disk_bytes;
  if (!reached && !(disk_over_ && used_bytes > disk_resume_bytes())) return std::nullopt;
  const std::string journal_dir = (std::filesystem::path(options_.data_dir) / "journal").string();
  return Error(
      ErrorCode::kBrokerDiskLimit,
      fmt::format("the journal in {} uses {} bytes ({} segment files of storage.segment_size = {}); it "
                  "reached limits.max_disk_bytes = {}, so new messages and queues are refused until it "
                  "is at or under {} bytes; acks, nacks, purges and deletes go on",
                  journal_dir, used_bytes, used_bytes / options_.segment_bytes, options_.segment_bytes,
                  options_.max_disk_bytes, disk_resume_bytes()),
      fmt::format("consume and ack messages, or purge or delete queues you do not need: publishing "
                  "resumes by itself once a checkpoint (every storage.checkpoint_interval_ms = {}) "
                  "reclaims enough segments; or raise limits.max_disk_bytes and restart ballastd",
                  options_.checkpoint_interval_ms));
}

std::optional<Error> ResourceLimits::memory_refusal() const {
  if (!memory_over_) return std::nullopt;
  const uint64_t resume = options_.max_memory_bytes / 100 * kMemoryResumePercent;
  return Error(ErrorCode::kBrokerMemoryLimit,
               fmt::format("ballastd uses {} bytes of memory (resident set, /proc/self/statm), at or over "
                           "limits.max_memory_bytes = {}; new messages and queues are refused until it is "
                           "below {} bytes, consumers go on",
                           memory_bytes_, options_.max_memory_bytes, resume),
               fmt::format("consume messages (up to storage.read_cache_bytes = {} of recent ones are held in "
                           "memory until delivered): publishing resumes by itself below {} bytes; or raise "
                           "limits.max_memory_bytes (keeping it under the machine's or cgroup's memory) and "
                           "restart ballastd",
                           options_.read_cache_bytes, resume));
}

void ResourceLimits::observe_disk(uint64_t used_bytes) {
  if (!disk_over_ && used_bytes >= options_.max_disk_bytes) {
    disk_over_ = true;
    const Error error = *disk_refusal(used_bytes);
    log::event(log::Level::kWarn, "broker.disk_limit_reached",
               {log::kv("code", error.code_name()), log::kv("used_bytes", used_bytes),
                log::kv("limit_bytes", options_.max_disk_bytes), log::kv("message", error.message()),
                log::kv("fix", error.fix())});
  } else if (disk_over_ && used_bytes <= disk_resume_bytes()) {
    disk_over_ = false;
    log::event(log::Level::kInfo, "broker.disk_limit_cleared",
               {log::kv("used_bytes", used_bytes), log::kv("limit_bytes", options_.max_disk_bytes),
                log::kv("resume_bytes", disk_resume_bytes()),
                log::kv("message", "the journal is back under limits.max_disk_bytes; publishing resumes")});
  }
}

void ResourceLimits::sample_memory() {
  auto sample = probe_();
  if (!sample) {
    // The last state stands: the limit is neither enforced anew nor cleared on no evidence.
    if (!probe_failing_) {
      log::event(log::Level::kWarn, "broker.memory_unreadable",
                 {log::kv("code", sample.error().code_name()), log::kv("message", sample.error().message()),
                  log::kv("fix", sample.error().fix())});
    }
    probe_failing_ = true;
    return;
  }
  probe_failing_ = false;
  memory_bytes_ = *sample;
  const uint64_t resume = options_.max_memory_bytes / 100 * kMemoryResumePercent;
  if (!memory_over_ && memory_bytes_ >= options_.max_memory_bytes) {
    memory_over_ = true;
    const Error error = *memory_refusal();
    log::event(log::Level::kWarn, "broker.memory_limit_reached",
               {log::kv("code", error.code_name()), log::kv("memory_bytes", memory_bytes_),
                log::kv("limit_bytes", options_.max_memory_bytes), log::kv("message", error.message()),
                log::kv("fix", error.fix())});
  } else if (memory_over_ && memory_bytes_ < resume) {
    memory_over_ = false;
    log::event(log::Level::kInfo, "broker.memory_limit_cleared",
               {log::kv("memory_bytes", memory_bytes_), log::kv("limit_bytes", options_.max_memory_bytes),
                log::kv("resume_bytes", resume),
                log::kv("message", "memory use is under limits.max_memory_bytes again; publishing resumes")});
  }
}

}  // namespace ballast::broker

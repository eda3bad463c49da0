// PluginSupervisor: reading and writing a plug-in's pipes, and the frames it sends.
#include <fmt/format.h>

#include "plugins/plugin_incarnation.h"
#include "plugins/plugin_supervisor.h"
#include "plugins/protocol_frames.h"
#include "util/log.h"

namespace ballast::plugins {

namespace {

constexpr size_t kMaxStderrLineBytes = 4096;
constexpr int kMaxDrainReads = 16;

}  // namespace

void PluginSupervisor::read_frames(uint64_t generation) {
  Incarnation& incarnation = *find_incarnation(generation);
  incarnation.output.async_read_some(
      boost::asio::buffer(incarnation.read_buffer),
      [this, generation](const boost::system::error_code& error, size_t bytes) {
        // EOF or a closed pipe: the pidfd reports an exit; a plug-in that closed its stdout but
        // lives on misses its next ping.
        Incarnation* reading = error ? nullptr : find_incarnation(generation);
        if (reading == nullptr || !reading->output.is_open()) return;
        reading->decoder.feed(std::string_view(reading->read_buffer.data(), bytes));
        // Each frame may retire this process (or, switching, make it the current one).
        for (reading = find_incarnation(generation); reading != nullptr;
             reading = find_incarnation(generation)) {
          auto frame = reading->decoder.next();
          if (!frame) {
            return protocol_error(generation, fmt::format("broke the protocol: {}", frame.error().message()),
                                  frame.error().fix());
          }
          if (!*frame) break;
          dispatch_frame(generation, **frame);
        }
        if (find_incarnation(generation) != nullptr) read_frames(generation);
      });
}

void PluginSupervisor::dispatch_frame(uint64_t generation, const nlohmann::json& frame) {
  if (is_current(generation)) return on_frame(frame);
  if (is_candidate(generation)) return on_candidate_frame(frame);
  if (is_draining(generation)) return on_draining_frame(generation, frame);
}

void PluginSupervisor::protocol_error(uint64_t generation, std::string cause, std::string fix) {
  if (is_current(generation)) return fail(Failure::kProtocolError, std::move(cause), std::move(fix));
  if (is_candidate(generation))
    return reload_failed(fmt::format("the new process {}", cause), std::move(fix));
  if (is_draining(generation)) {
    log::event(
        log::Level::kWarn, "plugin.protocol_error",
        {log::kv("plugin", config_.name), log::kv("pid", find_incarnation(generation)->pid),
         log::kv("code", "PLUGIN_UNAVAILABLE"),
         log::kv("cause", fmt::format("the process replaced by a reload {}", cause)), log::kv("fix", fix)});
    end_drain(generation, fmt::format("the process replaced by a reload {}", cause));
  }
}

void PluginSupervisor::read_stderr(uint64_t generation) {
  Incarnation* incarnation = find_incarnation(generation);
  if (incarnation == nullptr) return;
  incarnation->errors.async_read_some(
      boost::asio::buffer(incarnation->stderr_buffer),
      [this, generation](const boost::system::error_code& error, size_t bytes) {
        Incarnation* reading = find_incarnation(generation);
        if (reading == nullptr || error == boost::asio::error::operation_aborted) return;
        if (error) return take_stderr(*reading, "\n");  // EOF: the last line without a newline
        take_stderr(*reading, std::string_view(reading->stderr_buffer.data(), bytes));
        read_stderr(generation);
      });
}

void PluginSupervisor::take_stderr(Incarnation& incarnation, std::string_view bytes) {
  for (char c : bytes) {
    if (c != '\n' && incarnation.stderr_line.size() < kMaxStderrLineBytes) {
      incarnation.stderr_line.push_back(c);
      continue;
    }
    if (c != '\n' || !incarnation.stderr_line.empty()) {
      log::limited_event(log::Level::kInfo, "plugin.stderr",
                         {log::kv("plugin", config_.name), log::kv("pid", incarnation.pid),
                          log::kv("line", incarnation.stderr_line)},
                         50);
    }
    incarnation.stderr_line.clear();
    if (c != '\n') incarnation.stderr_line.push_back(c);
  }
}

void PluginSupervisor::drain_stderr(Incarnation& incarnation) {
  boost::system::error_code error;
  incarnation.errors.non_blocking(true, error);
  for (int reads = 0; reads < kMaxDrainReads && !error; ++reads) {
    const size_t bytes = incarnation.errors.read_some(boost::asio::buffer(incarnation.stderr_buffer), error);
    if (!error) take_stderr(incarnation, std::string_view(incarnation.stderr_buffer.data(), bytes));
  }
  take_stderr(incarnation, "\n");
  incarnation.errors.close(error);
}

void PluginSupervisor::wait_exit(uint64_t generation) {
  Incarnation* incarnation = find_incarnation(generation);
  if (incarnation == nullptr) return;
  incarnation->exit.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                               [this, generation](const boost::system::error_code& error) {
                                 if (error) return;
                                 on_exit(generation);
                               });
}

void PluginSupervisor::send(const nlohmann::json& frame) {
  send_encoded(encode_frame(frame));
}

void PluginSupervisor::send_encoded(std::string frame) {
  if (current_) send_to(*current_, std::move(frame));
}

void PluginSupervisor::send_to(Incarnation& incarnation, std::string frame) {
  incarnation.write_queue.push_back(std::move(frame));
  if (!incarnation.writing) write_next(incarnation.generation);
}

void PluginSupervisor::write_next(uint64_t generation) {
  Incarnation& incarnation = *find_incarnation(generation);
  incarnation.writing = true;
  boost::asio::async_write(incarnation.input, boost::asio::buffer(incarnation.write_queue.front()),
                           [this, generation](const boost::system::error_code& error, size_t) {
                             Incarnation* writing = find_incarnation(generation);
                             if (writing == nullptr) return;
                             writing->writing = false;
                             // A closed stdin: the pidfd reports an exit, or the next ping a hang.
                             if (error) return;
                             writing->write_queue.pop_front();
                             if (!writing->write_queue.empty()) write_next(generation);
                           });
}

void PluginSupervisor::on_frame(const nlohmann::json& frame) {
  const std::string type = frame["type"].get<std::string>();
  if (state_ == State::kStarting) {
    if (type == "hello") return on_hello(frame);
    return fail(Failure::kProtocolError,
                fmt::format("broke the protocol: its first frame has type \"{}\", not \"hello\"", type), "");
  }
  if (type == "verdict") return on_verdict(current_->generation, frame);
  if (type == "outcome") return on_outcome(current_->generation, frame);
  if (type == "pong") return on_pong(frame);
  fail(Failure::kProtocolError, fmt::format("broke the protocol: a frame of unexpected type \"{}\"", type),
       "");
}

void PluginSupervisor::on_hello(const nlohmann::json& frame) {
  auto version = check_hello(frame, config_);
  if (!version) {
    return fail(Failure::kHandshakeFailed, fmt::format("failed its handshake: {}", version.error().message()),
                version.error().fix());
  }
  handshake_timer_.cancel();
  version_ = *version;
  ready_.store(true, std::memory_order_release);
  enter(State::kReady);
  log::event(log::Level::kInfo, "plugin.ready",
             {log::kv("plugin", config_.name), log::kv("pid", current_->pid), log::kv("version", *version),
              log::kv("startup_ms", clock_.monotonic_ms() - current_->started_at_ms)});
  schedule_ping();
  answer_reloads(ok_status());
}

void PluginSupervisor::on_pong(const nlohmann::json& frame) {
  if (ping_id_ && frame_id(frame) == ping_id_) {
    ping_id_.reset();
    pong_timer_.cancel();
    return;
  }
  on_unasked_id(current_->generation, "pong", frame);
}

void PluginSupervisor::on_unasked_id(uint64_t generation, std::string_view type,
                                     const nlohmann::json& frame) {
  const std::optional<uint64_t> id = frame_id(frame);
  if (id && *id < next_id_) {
    // An answer after its deadline: the call was already answered with the policy's verdict.
    log::limited_event(log::Level::kDebug, "plugin.late_answer",
                       {log::kv("plugin", config_.name), log::kv("type", type), log::kv("id", *id)});
    return;
  }
  protocol_error(generation,
                 fmt::format("broke the protocol: a {} for id {}, which was never asked", type,
                             id ? fmt::format("{}", *id) : std::string("(missing)")),
                 "");
}

}  // namespace ballast::plugins

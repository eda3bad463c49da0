#pragma once
// queue.declare's x-arguments as Ballast queue settings (docs/amqp.md lists each one).
// Thread-safe: pure function.

#include "broker/queue_settings.h"
#include "protocol/amqp091/wire.h"
#include "util/result.h"

namespace ballast::amqp {

// Fails with INVALID_ARGUMENT (or NOT_IMPLEMENTED) naming the argument and the queue.
// Arguments that do not start with "x-" and unknown x-arguments are ignored, as RabbitMQ does.
Result<broker::QueueSettings> queue_settings_from_arguments(const FieldTable& arguments,
                                                            const std::string& queue);

}  // namespace ballast::amqp

#pragma once
// What the webhook-trigger makes of an HTTP answer (docs/plugins.md, "webhook-trigger"): 2xx is
// done; 408, 425, 429, 5xx and any other non-4xx status are retry; every other 4xx is failed (the
// same request would be refused again). Thread-safe: pure functions.

#include <string>

#include "ballast/plugin.h"

namespace ballast::webhook {

// The outcome of the answer `status` from the URL `where`; a reason names both.
plugin::Outcome outcome_for_status(unsigned status, const std::string& where);

}  // namespace ballast::webhook

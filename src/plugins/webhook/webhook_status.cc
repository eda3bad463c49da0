#include "plugins/webhook/webhook_status.h"

namespace ballast::webhook {

namespace {

// 4xx answers that say "not now" rather than "never": Request Timeout, Too Early, Too Many Requests.
bool is_transient_client_error(unsigned status) {
  return status == 408 || status == 425 || status == 429;
}

}  // namespace

plugin::Outcome outcome_for_status(unsigned status, const std::string& where) {
  if (status >= 200 && status < 300) return plugin::Outcome::done();
  const std::string answered = where + " answered HTTP " + std::to_string(status);
  if (status >= 400 && status < 500 && !is_transient_client_error(status)) {
    return plugin::Outcome::failed(answered + ", a client error that the same request would get again");
  }
  return plugin::Outcome::retry(answered);
}

}  // namespace ballast::webhook

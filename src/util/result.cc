#include "util/result.h"

namespace ballast {

std::string Error::describe() const {
  if (fix_.empty()) return fmt::format("{}: {}", code_name(), message_);
  return fmt::format("{}: {}. Fix: {}", code_name(), message_, fix_);
}

Error Error::with_context(std::string_view context) && {
  message_ = fmt::format("{}: {}", context, message_);
  return std::move(*this);
}

Error Error::with_context(std::string_view context) const& {
  Error copy = *this;
  return std::move(copy).with_context(context);
}

}  // namespace ballast

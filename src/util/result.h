#pragma once
// Error and Result<T>: expected failures as values (STYLE.md §4).
// An Error carries a stable ErrorCode, a message naming the exact object, observed value and
// limit, and the fix an operator or user should apply. Result<T> holds a T or an Error.
// Both are [[nodiscard]]; dropping one must be visible: result.ignore("why").
// Not thread-safe: plain values, owned by whoever holds them.

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "util/check.h"
#include "util/error_code.h"

namespace ballast {

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message, std::string fix)
      : code_(code), message_(std::move(message)), fix_(std::move(fix)) {}

  ErrorCode code() const { return code_; }
  std::string_view code_name() const { return error_code_name(code_); }
  // What went wrong and on which object, without the code prefix or the fix.
  const std::string& message() const { return message_; }
  const std::string& fix() const { return fix_; }

  // "CODE: message. Fix: fix" — the one-line form for logs and AMQP reply texts.
  std::string describe() const;

  // Prefixes the message with what the caller was doing, once per layer.
  Error with_context(std::string_view context) &&;
  Error with_context(std::string_view context) const&;

 private:
  ErrorCode code_;
  std::string message_;
  std::string fix_;
};

// The success value of a Result<void>.
struct Ok {};

template <typename T>
class [[nodiscard]] Result {
 public:
  using Value = std::conditional_t<std::is_void_v<T>, Ok, T>;

  Result(Value value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design
  template <typename U = T, typename = std::enable_if_t<std::is_void_v<U>>>
  Result() : state_(Ok{}) {}

  bool ok() const { return std::holds_alternative<Value>(state_); }
  explicit operator bool() const { return ok(); }

  Value& value() & {
    BALLAST_CHECK(ok(), "value() on an error result: {}", std::get<Error>(state_).describe());
    return std::get<Value>(state_);
  }
  const Value& value() const& {
    BALLAST_CHECK(ok(), "value() on an error result: {}", std::get<Error>(state_).describe());
    return std::get<Value>(state_);
  }
  Value&& value() && {
    BALLAST_CHECK(ok(), "value() on an error result: {}", std::get<Error>(state_).describe());
    return std::get<Value>(std::move(state_));
  }
  Value* operator->() { return &value(); }
  const Value* operator->() const { return &value(); }
  Value& operator*() & { return value(); }
  const Value& operator*() const& { return value(); }

  const Error& error() const& {
    BALLAST_CHECK(!ok(), "error() on a successful result");
    return std::get<Error>(state_);
  }
  Error&& error() && {
    BALLAST_CHECK(!ok(), "error() on a successful result");
    return std::get<Error>(std::move(state_));
  }

  // Drops the result on purpose; `why` documents the decision at the call site.
  void ignore(std::string_view why) const { static_cast<void>(why); }

 private:
  std::variant<Value, Error> state_;
};

using Status = Result<void>;

inline Status ok_status() {
  return Status(Ok{});
}

}  // namespace ballast

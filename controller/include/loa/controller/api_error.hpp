// Errors of controller operations as the API reports them: a code and a message naming what
// was wrong.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "loa/protocol/result.hpp"

namespace loa::controller {

enum class ErrorCode {
  bad_request,    // malformed or out-of-range input (400)
  not_found,      // an id that names nothing (404)
  conflict,       // already exists (409)
  unprocessable,  // well-formed but refused, e.g. a start in the past (422)
  internal,       // the store or the file system failed (500)
  // Accounts (issue 7).
  unauthorized,       // no valid session or token (401)
  forbidden,          // the caller's role or area does not allow it (403)
  too_many_requests,  // login attempts rate-limited (429)
};
// "bad_request", "not_found", ...
const char* to_string(ErrorCode code);
int http_status(ErrorCode code);

struct ApiError {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

inline ApiError api_error(ErrorCode code, std::string message) {
  return ApiError{code, std::move(message)};
}

// Either a value or an ApiError.
template <typename T>
class [[nodiscard]] Reply {
 public:
  Reply(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Reply(ApiError error) : v_(std::move(error)) {}  // NOLINT
  // A store or file failure: internal.
  Reply(Error error) : v_(ApiError{ErrorCode::internal, std::move(error.message)}) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace loa::controller

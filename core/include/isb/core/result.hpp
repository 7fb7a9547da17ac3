// result.hpp: the core's one error style. Functions that can fail return
// Result<T>; the Error says what failed, on what input, and what to do.
//
//   Result<Config> r = load_config(path);
//   if (!r) { std::cerr << r.error().message; return 1; }
//   Config c = std::move(*r);
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace isb {

//! Error categories. They map onto ABI statuses and protocol error codes.
enum class ErrorCode {
  kInvalidArgument,  // the caller sent something wrong
  kNotFound,         // an id or path that does not exist
  kAlreadyExists,
  kFailedPrecondition,  // valid request, wrong state (e.g. plan not approved)
  kResourceExhausted,   // a limit was reached (max_workspaces, output size)
  kPermissionDenied,
  kUnavailable,  // a dependency (plugin, engine) is not there
  kInvalidConfig,
  kTimeout,
  kCancelled,
  kInternal,
};

//! Stable snake_case name of an error code, used in result documents.
inline const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInvalidConfig: return "invalid_config";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

//! A value or an Error. [[nodiscard]] so that failures are not dropped.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

//! Result of an operation with no value.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace isb

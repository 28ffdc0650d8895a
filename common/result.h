// Result and Error: how every fallible operation reports back.
//
// No exceptions cross module boundaries. An Error says what the failure means
// for the caller's next move, which is what the rotation engine decides on:
// retry soon, fix credentials, fix configuration, or first find out whether a
// write we sent was applied.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <variant>

namespace eca {

enum class ErrorKind {
  Transient,  // network error, 5xx, rate limit: the same call may work later
  Auth,       // credentials refused (bad secret, locked identity, no permission)
  Permanent,  // configuration or protocol problem: retrying will not help
  Unknown,    // a write was sent and may or may not have been applied
};

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::Permanent;
  std::string message;                  // operator-facing; never contains a secret
  int http_status = 0;                  // 0 when no HTTP answer was received
  std::string code;                     // service error code (INVALID_SESSION_ID, TokenError, ...)
  std::string request_id;               // Infisical reqId, for the server's logs
  std::chrono::seconds retry_after{0};  // > 0 when the service said how long to wait

  static Error make(ErrorKind k, std::string msg) {
    Error e;
    e.kind = k;
    e.message = std::move(msg);
    return e;
  }
  static Error transient(std::string msg) { return make(ErrorKind::Transient, std::move(msg)); }
  static Error auth(std::string msg) { return make(ErrorKind::Auth, std::move(msg)); }
  static Error permanent(std::string msg) { return make(ErrorKind::Permanent, std::move(msg)); }
  static Error unknown(std::string msg) { return make(ErrorKind::Unknown, std::move(msg)); }

  // "what happened (HTTP 403 REQUEST_LIMIT_EXCEEDED, reqId ...)"
  std::string describe() const;
  bool retryable() const { return kind == ErrorKind::Transient; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() {
  return Ok{};
}

}  // namespace eca

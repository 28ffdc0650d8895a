// A scripted HttpTransport for the response-decoder fuzz targets: every request
// is answered with the same status and the fuzz input as body, except token
// requests when the harness wants a working login so the REST call behind it
// is reached.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "clients/http_transport.h"

namespace eca::fuzz {

// Statuses the clients treat differently; the first input byte picks one.
inline constexpr int kStatuses[] = {200, 201, 204, 400, 401, 403, 404, 408, 422, 429, 500, 503};

// Retry-After header values (none, numeric, garbage, out of range, negative).
inline constexpr const char* kRetryAfter[] = {nullptr, "12", "soon", "99999999999999999999999",
                                              "-5"};

struct FuzzAnswer {
  int status = 200;
  const char* retry_after = nullptr;
  std::string_view body;

  // Byte 0: status (low nibble) and Retry-After choice (high bits); the rest is the body.
  static FuzzAnswer from_input(std::string_view in) {
    FuzzAnswer a;
    if (in.empty()) return a;
    auto b = static_cast<unsigned char>(in[0]);
    a.status = kStatuses[(b & 0x0f) % std::size(kStatuses)];
    a.retry_after = kRetryAfter[(b >> 4) % std::size(kRetryAfter)];
    a.body = in.substr(1);
    return a;
  }
};

class FakeTransport final : public HttpTransport {
 public:
  // token_endpoint: the endpoint name of the login request ("sf.token", "inf.login").
  FakeTransport(FuzzAnswer answer, std::string token_endpoint, std::string_view good_token_body)
      : answer_(answer),
        token_endpoint_(std::move(token_endpoint)),
        good_token_body_(good_token_body) {}

  // When true, login requests get the fuzz answer too; otherwise a valid token.
  void fuzz_login(bool on) { fuzz_login_ = on; }
  int requests() const { return requests_; }

  Result<HttpResponse> send(HttpRequest& request) override {
    ++requests_;
    HttpResponse r;
    if (request.endpoint == token_endpoint_ && !fuzz_login_) {
      r.status = 200;
      r.body = Secret(good_token_body_);
      return r;
    }
    r.status = answer_.status;
    if (answer_.retry_after != nullptr) r.headers.emplace_back("retry-after", answer_.retry_after);
    r.headers.emplace_back("content-type", "application/json");
    r.body = Secret(answer_.body);
    return r;
  }

 private:
  FuzzAnswer answer_;
  std::string token_endpoint_;
  std::string_view good_token_body_;
  bool fuzz_login_ = false;
  int requests_ = 0;
};

}  // namespace eca::fuzz

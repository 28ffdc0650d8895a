// AuthSession: the bearer token of one API connection, shared by every thread that uses
// the connection. Both API clients hold one; only how a token is obtained differs.
//
// - Cache: a call uses the token in hand.
// - Single flight: with no token, one thread logs in; the others wait and share its token,
//   or its error (a burst of 16 workers makes one login, not 16).
// - Retry once: a call whose token the server refuses (`refused`) is repeated once after
//   a fresh login; a second refusal is the caller's answer.
// - Lifetime: a token with a TTL is renewed at 2/3 of it when a renewal can work (the
//   new lifetime must end within the max TTL counted from the login that started the
//   chain, or the server refuses and, Infisical, deletes the token); otherwise it is
//   dropped so the next call logs in.
// - Pause: after a login refused as Auth, logins stop for `login_pause` (a wrong
//   credential must not lock the identity by repeated attempts).
// Every time is read from the one injected clock.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "clients/http_transport.h"
#include "clients/token_flight.h"
#include "common/clock.h"
#include "common/result.h"
#include "common/secret.h"

namespace eca {

class AuthSession {
 public:
  struct Token {
    Secret value;
    std::chrono::seconds ttl{0};      // 0: the server gave no lifetime (Salesforce)
    std::chrono::seconds max_ttl{0};  // 0: renewals are not limited
  };
  using Now = std::function<TimePoint()>;
  struct Options {
    std::function<Result<Token>()> login;
    std::function<Result<Token>(const Secret& current)> renew;  // optional
    std::function<bool(const HttpResponse&)> refused;           // the token was refused
    Now now;                                                    // default: system clock
    std::chrono::seconds login_pause{0};
    std::string pause_message;  // the Auth error while logins are paused
  };
  explicit AuthSession(Options options);

  // Logs in now (one at a time with any other login), replacing the token.
  Status log_in();
  // Renews the token now, replacing it; an error leaves the token as it was.
  Status renew();
  // Sends with a token: `send` gets a copy of the current one (logging in first when
  // there is none) and is called a second time after a fresh login when the answer
  // says the token was refused.
  Result<HttpResponse> send(const std::function<Result<HttpResponse>(Secret token)>& send);

  bool has_token() const;

 private:
  Status fetch_token();  // one login, with the caller holding the flight
  void store(Token token, bool new_chain);
  void refresh_if_due();

  Options opts_;
  TokenFlight flight_;
  mutable std::mutex mu_;
  Secret token_;
  long generation_ = 0;
  TimePoint obtained_{};
  std::chrono::seconds ttl_{0};
  TimePoint chain_end_ = TimePoint::max();
  TimePoint logins_paused_until_{};
};

}  // namespace eca

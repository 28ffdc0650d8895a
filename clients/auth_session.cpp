#include "clients/auth_session.h"

namespace eca {

AuthSession::AuthSession(Options options) : opts_(std::move(options)) {
  if (!opts_.now) opts_.now = [] { return std::chrono::system_clock::now(); };
}

bool AuthSession::has_token() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !token_.empty();
}

void AuthSession::store(Token token, bool new_chain) {
  std::lock_guard<std::mutex> lock(mu_);
  token_ = std::move(token.value);  // a renewal returns a new token: always replace
  ++generation_;
  obtained_ = opts_.now();
  ttl_ = token.ttl;
  if (new_chain) {
    // The max TTL counts from the login that started the chain of renewals.
    chain_end_ =
        token.max_ttl > std::chrono::seconds(0) ? obtained_ + token.max_ttl : TimePoint::max();
  }
}

Status AuthSession::fetch_token() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (opts_.now() < logins_paused_until_) return Error::auth(opts_.pause_message);
  }
  auto token = opts_.login();
  if (!token) {
    if (token.error().kind == ErrorKind::Auth && opts_.login_pause.count() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      logins_paused_until_ = opts_.now() + opts_.login_pause;
    }
    return token.error();
  }
  store(std::move(token.value()), true);
  return ok_status();
}

Status AuthSession::log_in() {
  return flight_.run([] { return false; }, [this] { return fetch_token(); });
}

Status AuthSession::renew() {
  if (!opts_.renew) return Error::permanent("this service's tokens cannot be renewed");
  Secret current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = token_.clone();
  }
  auto token = opts_.renew(current);
  if (!token) return token.error();
  store(std::move(token.value()), false);
  return ok_status();
}

void AuthSession::refresh_if_due() {
  TimePoint renew_at, chain_end;
  std::chrono::seconds ttl{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (token_.empty() || ttl_ <= std::chrono::seconds(0)) return;
    renew_at = obtained_ + ttl_ * 2 / 3;
    ttl = ttl_;
    chain_end = chain_end_;
  }
  const TimePoint now = opts_.now();
  if (now < renew_at) return;
  // A renewal whose new lifetime (now + TTL) would pass the chain's end is refused, and
  // Infisical deletes the still-valid token when it refuses; with default identity
  // settings (TTL = max TTL) that is every renewal. Ask only when it can work, with a
  // margin for clock skew; otherwise log in again directly.
  constexpr auto kSkew = std::chrono::seconds(5);
  if (opts_.renew && (chain_end == TimePoint::max() || chain_end - now > ttl + kSkew)) {
    if (renew()) return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  token_.wipe();  // the next call logs in
}

Result<HttpResponse> AuthSession::send(
    const std::function<Result<HttpResponse>(Secret token)>& send) {
  refresh_if_due();
  for (int attempt = 0;; ++attempt) {
    Secret token;
    long generation = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      token = token_.clone();
      generation = generation_;
    }
    if (token.empty()) {
      auto st = flight_.run([this] { return has_token(); }, [this] { return fetch_token(); });
      if (!st) return st.error();
      std::lock_guard<std::mutex> lock(mu_);
      token = token_.clone();
      generation = generation_;
    }
    auto res = send(std::move(token));
    if (!res || !opts_.refused(*res) || attempt == 1) return res;
    // Expired or revoked: drop it (unless another thread already replaced it) and repeat.
    std::lock_guard<std::mutex> lock(mu_);
    if (generation_ == generation) token_.wipe();
  }
}

}  // namespace eca

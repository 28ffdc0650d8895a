// clients/auth_session: the token cache both clients share. A scripted login and a fake
// clock show what a burst, an expiry, a refusal and a renewal each cost in logins.
#include "clients/auth_session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace eca {
namespace {

using std::chrono::seconds;

class AuthSessionTest : public ::testing::Test {
 protected:
  TimePoint now = TimePoint(std::chrono::hours(24 * 20000));
  std::atomic<int> logins{0};
  std::atomic<int> renewals{0};
  bool login_refused = false;
  bool renewal_refused = false;
  seconds ttl{0};
  seconds max_ttl{0};

  AuthSession::Token token(const std::string& value) {
    AuthSession::Token t;
    t.value = Secret(std::string_view(value));
    t.ttl = ttl;
    t.max_ttl = max_ttl;
    return t;
  }

  AuthSession make(bool with_renew = false) {
    AuthSession::Options o;
    o.login = [this]() -> Result<AuthSession::Token> {
      int n = ++logins;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // others queue meanwhile
      if (login_refused) return Error::auth("refused");
      return token("login-" + std::to_string(n));
    };
    if (with_renew) {
      o.renew = [this](const Secret& current) -> Result<AuthSession::Token> {
        ++renewals;
        if (renewal_refused) return Error::auth("renewal refused");
        return token(std::string(current.view()) + "+renewed");
      };
    }
    o.refused = [](const HttpResponse& r) { return r.status == 401; };
    o.now = [this] { return now; };
    o.login_pause = seconds(300);
    o.pause_message = "paused: check the credential";
    return AuthSession(std::move(o));
  }

  // A send that answers `status` and records the token it was given.
  static std::function<Result<HttpResponse>(Secret)> answer(int status, std::string* seen) {
    return [status, seen](Secret t) -> Result<HttpResponse> {
      if (seen != nullptr) *seen = std::string(t.view());
      HttpResponse r;
      r.status = status;
      return r;
    };
  }
};

TEST_F(AuthSessionTest, ABurstOfSixteenCallsLogsInOnce) {
  AuthSession s = make();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      std::string seen;
      if (auto r = s.send(answer(200, &seen)); r && seen == "login-1") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(logins.load(), 1);
  EXPECT_EQ(ok.load(), 16) << "every call used the one token";
}

TEST_F(AuthSessionTest, ARefusedTokenIsReplacedOnceAndTheCallRepeated) {
  AuthSession s = make();
  std::string seen;
  int calls = 0;
  auto r = s.send([&](Secret t) -> Result<HttpResponse> {
    seen = std::string(t.view());
    HttpResponse resp;
    resp.status = ++calls == 1 ? 401 : 200;
    return resp;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(seen, "login-2");
}

TEST_F(AuthSessionTest, ASecondRefusalIsTheAnswerNotALoop) {
  AuthSession s = make();
  int calls = 0;
  auto r = s.send([&](Secret) -> Result<HttpResponse> {
    ++calls;
    HttpResponse resp;
    resp.status = 401;
    return resp;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(logins.load(), 2);
}

TEST_F(AuthSessionTest, AllWaitersShareARefusedLoginAndLoginsPauseOnTheInjectedClock) {
  login_refused = true;
  AuthSession s = make();
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = s.send(answer(200, nullptr));
      if (!r && r.error().kind == ErrorKind::Auth) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), 8);
  EXPECT_EQ(logins.load(), 1) << "one refused login, not eight (the identity's lockout)";

  login_refused = false;
  auto paused = s.send(answer(200, nullptr));
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.error().message, "paused: check the credential");
  EXPECT_EQ(logins.load(), 1);

  now += seconds(301);
  EXPECT_TRUE(s.send(answer(200, nullptr)).ok());
  EXPECT_EQ(logins.load(), 2);
}

TEST_F(AuthSessionTest, ATokenIsRenewedAtTwoThirdsOfItsLifetime) {
  ttl = seconds(600);
  AuthSession s = make(/*with_renew=*/true);
  std::string seen;
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  now += seconds(399);
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  EXPECT_EQ(renewals.load(), 0);
  now += seconds(2);
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  EXPECT_EQ(renewals.load(), 1);
  EXPECT_EQ(seen, "login-1+renewed");
  EXPECT_EQ(logins.load(), 1);
}

TEST_F(AuthSessionTest, NoRenewalThatWouldPassTheMaxTtlTheSessionLogsInInstead) {
  ttl = seconds(600);
  max_ttl = seconds(600);  // Infisical's default identity: every renewal would be refused
  AuthSession s = make(/*with_renew=*/true);
  std::string seen;
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  now += seconds(450);
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  EXPECT_EQ(renewals.load(), 0) << "a doomed renewal deletes the token at the server";
  EXPECT_EQ(seen, "login-2");
}

TEST_F(AuthSessionTest, ARefusedRenewalFallsBackToALogin) {
  ttl = seconds(600);
  renewal_refused = true;
  AuthSession s = make(/*with_renew=*/true);
  std::string seen;
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  now += seconds(401);
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  EXPECT_EQ(renewals.load(), 1);
  EXPECT_EQ(seen, "login-2");
}

TEST_F(AuthSessionTest, TokensWithoutLifetimeAreKeptUntilRefused) {
  AuthSession s = make(/*with_renew=*/true);
  ASSERT_TRUE(s.send(answer(200, nullptr)).ok());
  now += std::chrono::hours(24 * 365);
  std::string seen;
  ASSERT_TRUE(s.send(answer(200, &seen)).ok());
  EXPECT_EQ(seen, "login-1");
  EXPECT_EQ(renewals.load(), 0);
}

}  // namespace
}  // namespace eca

// InfisicalClient against the fake Infisical: token lifecycle, errors, folders.
#include "clients/infisical_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "clients/curl_transport.h"
#include "tests/sandbox/fake_infisical.h"

namespace eca {
namespace {

using sandbox::FakeInfisical;
using sandbox::Fault;

class InfisicalClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inf_ = std::make_unique<FakeInfisical>(sandbox::FakeInfisicalOptions{}, clock_);
    inf_->start();
    inf_->add_project("proj-1", "demo", {"prod"});
  }
  void TearDown() override { inf_->stop(); }

  std::unique_ptr<InfisicalClient> client(const std::string& secret = "identity-secret") {
    InfisicalEndpoint ep;
    ep.url = inf_->base_url();
    ep.project_id = "proj-1";
    ep.environment = "prod";
    ep.client_id = "identity-1";
    ep.client_secret = Secret(secret);
    auto c = clock_;
    return std::make_unique<InfisicalClient>(transport_, std::move(ep), [c] { return c->now(); });
  }
  void identity(std::chrono::seconds ttl, std::chrono::seconds max_ttl) {
    inf_->add_identity("identity-1", "identity-secret", ttl, max_ttl);
    inf_->add_member("proj-1", "identity-1");
  }

  std::shared_ptr<sandbox::FakeClock> clock_ = std::make_shared<sandbox::FakeClock>();
  std::unique_ptr<FakeInfisical> inf_;
  CurlTransport transport_;
};

TEST_F(InfisicalClientTest, DefaultIdentityLogsInAgainInsteadOfRenewing) {
  identity(std::chrono::hours(24 * 30), std::chrono::hours(24 * 30));  // TTL == max TTL
  auto c = client();
  ASSERT_TRUE(c->list("/").ok());
  clock_->advance(std::chrono::hours(24 * 21));  // past 2/3 of the TTL
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.renew"), 0) << "renewal would fail with 401 past max TTL";
  EXPECT_EQ(inf_->request_count("inf.login"), 2);
}

TEST_F(InfisicalClientTest, ShortTokensAreRenewedBeforeExpiryAndReplaced) {
  identity(std::chrono::hours(1), std::chrono::hours(24 * 30));
  auto c = client();
  ASSERT_TRUE(c->list("/").ok());
  for (int i = 0; i < 5; ++i) {
    clock_->advance(std::chrono::minutes(45));
    ASSERT_TRUE(c->list("/").ok()) << "hour " << i;
  }
  EXPECT_EQ(inf_->request_count("inf.login"), 1);
  EXPECT_EQ(inf_->request_count("inf.renew"), 5);
  EXPECT_EQ(inf_->log().count("inf.list", 200), 6) << "no call was refused";
}

TEST_F(InfisicalClientTest, ExpiredTokenMeansOneFreshLoginAndOneRepeat) {
  identity(std::chrono::hours(24 * 30), std::chrono::hours(24 * 30));
  auto c = client();
  ASSERT_TRUE(c->list("/").ok());
  inf_->expire_all_tokens();
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.login"), 2);
  EXPECT_EQ(inf_->request_count("inf.list"), 3);
}

TEST_F(InfisicalClientTest, WrongSecretBacksOffInsteadOfTrippingTheLockout) {
  identity(std::chrono::hours(1), std::chrono::hours(1));
  auto c = client("wrong-secret");
  auto first = c->list("/");
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, ErrorKind::Auth);
  EXPECT_NE(first.error().message.find("client_secret"), std::string::npos);
  EXPECT_EQ(first.error().message.find("wrong-secret"), std::string::npos);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.login"), 1) << "one refused login, then a pause";
}

TEST_F(InfisicalClientTest, ABurstOfFirstCallsLogsInOnce) {
  identity(std::chrono::hours(24 * 30), std::chrono::hours(24 * 30));
  Fault slow_login;
  slow_login.endpoint = "inf.login";
  slow_login.latency_ms = 200;  // every worker finds the cache empty while the login runs
  inf_->inject(slow_login);
  auto c = client();
  std::vector<std::thread> workers;
  std::atomic<int> failed{0};
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([&] {
      if (!c->list("/").ok()) ++failed;
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(inf_->request_count("inf.login"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 8);
}

TEST_F(InfisicalClientTest, WorkersWaitingOnARefusedLoginDoNotRetryIt) {
  identity(std::chrono::hours(24 * 30), std::chrono::hours(24 * 30));
  Fault slow_login;
  slow_login.endpoint = "inf.login";
  slow_login.latency_ms = 200;
  inf_->inject(slow_login);
  auto c = client("wrong-secret");
  std::vector<std::thread> workers;
  std::atomic<int> auth_errors{0};
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([&] {
      auto r = c->list("/");
      if (!r.ok() && r.error().kind == ErrorKind::Auth) ++auth_errors;
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(auth_errors.load(), 8);
  EXPECT_EQ(inf_->request_count("inf.login"), 1) << "a refused login counts towards the lockout";
}

TEST_F(InfisicalClientTest, RateLimitCarriesTheWaitFromMessageOrHeader) {
  identity(std::chrono::hours(1), std::chrono::hours(1));
  auto c = client();
  ASSERT_TRUE(c->login().ok());
  inf_->inject(Fault::answer(
      "inf.list", 429,
      R"({"reqId":"req-1","statusCode":429,"error":"RateLimitExceeded","message":"Rate limit exceeded. Please try again in 17 seconds"})"));
  auto r = c->list("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Transient);
  EXPECT_EQ(r.error().retry_after, std::chrono::seconds(17));
  EXPECT_EQ(r.error().request_id, "req-1");
  Fault with_header = Fault::answer(
      "inf.list", 429,
      R"({"reqId":"req-2","statusCode":429,"error":"RateLimitExceeded","message":"Rate limit exceeded"})");
  with_header.headers.emplace_back("Retry-After", "42");
  inf_->inject(with_header);
  auto r2 = c->list("/");
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().retry_after, std::chrono::seconds(42));
}

TEST_F(InfisicalClientTest, UpsertCreatesTheMissingFolderAndRetriesOnce) {
  identity(std::chrono::hours(1), std::chrono::hours(1));
  auto c = client();
  std::vector<SecretWrite> w(2);
  w[0].name = "SALESFORCE_CONSUMER_KEY";
  w[0].value = Secret("k1");
  w[0].metadata["eca-rotator.generation"] = "1";
  w[1].name = "SALESFORCE_CONSUMER_SECRET";
  w[1].value = Secret("  s1  ");
  ASSERT_TRUE(c->upsert("/salesforce/deep/app", w).ok());
  EXPECT_EQ(inf_->request_count("inf.upsert"), 2);
  EXPECT_EQ(inf_->request_count("inf.folder_create"), 1);
  auto listed = c->list("/salesforce/deep/app");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& s : *listed) {
    if (s.name == "SALESFORCE_CONSUMER_SECRET") {
      EXPECT_EQ(s.value.view(), "s1") << "the server trims";
      EXPECT_TRUE(infisical_same_value("  s1  ", s.value.view()));
    } else {
      EXPECT_EQ(s.metadata.at("eca-rotator.generation"), "1");
    }
  }
}

TEST_F(InfisicalClientTest, ApprovalAnswerIsNotAPublish) {
  identity(std::chrono::hours(1), std::chrono::hours(1));
  inf_->set_approval_required("proj-1", "prod", "/", true);
  auto c = client();
  std::vector<SecretWrite> w(1);
  w[0].name = "SALESFORCE_CONSUMER_KEY";
  w[0].value = Secret("k1");
  auto st = c->upsert("/", w);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("nothing was written"), std::string::npos);
  EXPECT_FALSE(inf_->secret("proj-1", "prod", "/", "SALESFORCE_CONSUMER_KEY").has_value());
}

TEST_F(InfisicalClientTest, NonMemberGetsAnActionableError) {
  inf_->add_identity("identity-1", "identity-secret");
  auto r = client()->list("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("add it to the project"), std::string::npos) << r.error().message;
}

TEST(InfisicalSameValue, FollowsTheServersTrimmingRule) {
  EXPECT_TRUE(infisical_same_value("abc", "abc"));
  EXPECT_TRUE(infisical_same_value("  abc\t", "abc"));
  EXPECT_TRUE(infisical_same_value("abc\n", "abc\n"));
  EXPECT_TRUE(infisical_same_value("abc\n", "abc"));
  EXPECT_FALSE(infisical_same_value("abc", "abd"));
}

}  // namespace
}  // namespace eca

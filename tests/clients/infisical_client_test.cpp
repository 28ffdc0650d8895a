// InfisicalClient against the fake Infisical: token lifecycle, errors, folders.
#include "clients/infisical_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "clients/curl_transport.h"
#include "tests/sandbox/fake_infisical.h"

namespace eca {
namespace {

using sandbox::FakeInfisical;
using sandbox::Fault;

// Every test runs against both server generations: the current routes, and the
// legacy-only build (the client falls back to v3 raw / v1 folders).
class InfisicalClientTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    sandbox::FakeInfisicalOptions options;
    options.legacy_routes_only = GetParam();
    inf_ = std::make_unique<FakeInfisical>(options, clock_);
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

TEST_P(InfisicalClientTest, DefaultIdentityLogsInAgainInsteadOfRenewing) {
  identity(std::chrono::hours(24 * 30), std::chrono::hours(24 * 30));  // TTL == max TTL
  auto c = client();
  ASSERT_TRUE(c->list("/").ok());
  clock_->advance(std::chrono::hours(24 * 21));  // past 2/3 of the TTL
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.renew"), 0) << "renewal would fail with 401 past max TTL";
  EXPECT_EQ(inf_->request_count("inf.login"), 2);
}

TEST_P(InfisicalClientTest, ShortTokensAreRenewedBeforeExpiryAndReplaced) {
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

TEST_P(InfisicalClientTest, ExpiredTokenMeansOneFreshLoginAndOneRepeat) {
  identity(std::chrono::hours(24 * 30), std::chrono::hours(24 * 30));
  auto c = client();
  ASSERT_TRUE(c->list("/").ok());
  inf_->expire_all_tokens();
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.login"), 2);
  EXPECT_EQ(inf_->request_count("inf.list"), 3);
}

TEST_P(InfisicalClientTest, WrongSecretBacksOffInsteadOfTrippingTheLockout) {
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

TEST_P(InfisicalClientTest, ABurstOfFirstCallsLogsInOnce) {
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

TEST_P(InfisicalClientTest, WorkersWaitingOnARefusedLoginDoNotRetryIt) {
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

TEST_P(InfisicalClientTest, RateLimitCarriesTheWaitFromMessageOrHeader) {
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

TEST_P(InfisicalClientTest, UpsertCreatesTheMissingFolderAndRetriesOnce) {
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
  // "Folder not found" (a 404 with a reqId) is not mistaken for a missing route.
  EXPECT_EQ(c->server_generation(), GetParam() ? "v3 (legacy routes)" : "v4");
  EXPECT_EQ(inf_->route_not_found_count(), GetParam() ? 1 : 0);
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

// The recursive listing is read as a stream: every shared secret below the folder, with
// its folder, value, version and metadata, handed on one at a time.
TEST_P(InfisicalClientTest, ARecursiveListHandsOnEverySecretBelowTheFolderWithItsPlace) {
  identity(std::chrono::hours(1), std::chrono::hours(1));
  auto c = client();
  for (const std::string path : {"/salesforce/a", "/salesforce/a/deeper", "/other"}) {
    std::vector<SecretWrite> w(2);
    w[0].name = "KEY";
    w[0].value = Secret("key at " + path);
    w[0].metadata["eca-rotator.generation"] = "7";
    w[1].name = "SECRET";
    w[1].value = Secret("secret at " + path);
    ASSERT_TRUE(c->upsert(path, w).ok()) << path;
    ASSERT_TRUE(c->upsert(path, w).ok()) << path;  // version 2
  }
  std::map<std::string, StoredSecret> seen;  // by "path name"
  ASSERT_TRUE(c->list_recursive("/salesforce", [&](ListedSecret&& l) {
                 seen.emplace(l.path + " " + l.secret.name, std::move(l.secret));
               }).ok());
  ASSERT_EQ(seen.size(), 4u);
  const StoredSecret& key = seen.at("/salesforce/a/deeper KEY");
  EXPECT_EQ(key.value.view(), "key at /salesforce/a/deeper");
  EXPECT_EQ(key.version, 2);
  EXPECT_EQ(key.metadata.at("eca-rotator.generation"), "7");
  EXPECT_EQ(seen.at("/salesforce/a SECRET").value.view(), "secret at /salesforce/a");
  EXPECT_EQ(seen.count("/other KEY"), 0u);
}

// Answers built by hand: members the reader does not know (nested or not, before or after
// the ones it reads) are skipped, personal secrets left out, and an answer it cannot place
// or parse is an error that says so.
TEST_P(InfisicalClientTest, ARecursiveAnswerIsReadWhateverElseItCarries) {
  identity(std::chrono::hours(1), std::chrono::hours(1));
  auto c = client();
  ASSERT_TRUE(c->login().ok());
  const std::string route = "inf.list_recursive";
  inf_->inject(Fault::answer(route, 200, R"({"imports":[{"secrets":[{"secretKey":"NO"}]}],
    "secrets":[
      {"tags":[{"id":"t","secretKey":"NOT_THIS","version":99}],"secretKey":"A","version":3,
       "secretMetadata":[{"key":"k","value":"v","extra":{"deep":[1,2,{"key":"x"}]}},{"key":"only"}],
       "secretValue":"va","secretPath":"/p","type":"shared","skipMultilineEncoding":false,
       "secretReminderNote":null,"count":1.5e3},
      {"secretKey":"MINE","secretValue":"personal","secretPath":"/p","type":"personal"},
      {"secretPath":"/p","secretValue":"nameless"},
      {"secretKey":"B","secretValue":"vb","secretPath":"/p/q"}],
    "more":{"secrets":"not this"}})"));
  std::vector<ListedSecret> got;
  auto st = c->list_recursive("/", [&](ListedSecret&& l) { got.push_back(std::move(l)); });
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/p");
  EXPECT_EQ(got[0].secret.name, "A");
  EXPECT_EQ(got[0].secret.value.view(), "va");
  EXPECT_EQ(got[0].secret.version, 3);
  EXPECT_EQ(got[0].secret.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_EQ(got[1].path, "/p/q");
  EXPECT_EQ(got[1].secret.name, "B");

  const std::pair<std::string, std::string> bad[] = {
      {R"({"secrets":[{"secretKey":"A","secretValue":"v"}]})", "has no secretPath"},
      {R"({"secrets":[{"secretKey":"A",)", "is not valid JSON"},
      {R"({"folders":[]})", "has no \"secrets\" list"},
      {R"([{"secrets":[]}])", "has no \"secrets\" list"},
  };
  for (const auto& [body, says] : bad) {
    inf_->inject(Fault::answer(route, 200, body));
    auto r = c->list_recursive("/", [](ListedSecret&&) {});
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  }
}

TEST_P(InfisicalClientTest, ApprovalAnswerIsNotAPublish) {
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

TEST_P(InfisicalClientTest, NonMemberGetsAnActionableError) {
  inf_->add_identity("identity-1", "identity-secret");
  auto r = client()->list("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("add it to the project"), std::string::npos)
      << r.error().message;
}

TEST_P(InfisicalClientTest, RenewsOnlyWithinMaxTtlAndKeepsWorkingPastIt) {
  // 30 s tokens, 60 s max TTL: a renewal at 20 s works; one at 40 s would be refused
  // (and would delete the token), so the client must log in instead.
  identity(std::chrono::seconds(30), std::chrono::seconds(60));
  auto c = client();
  for (int second = 0; second <= 180; second += 5) {
    ASSERT_TRUE(c->list("/").ok()) << "at " << second << " s";
    clock_->advance(std::chrono::seconds(5));
  }
  EXPECT_EQ(inf_->log().count("inf.renew", 401), 0) << "a doomed renewal was sent";
  EXPECT_GT(inf_->log().count("inf.renew", 200), 0) << "renewal within max TTL is used";
  EXPECT_GE(inf_->request_count("inf.login"), 3) << "180 s needs fresh logins past 60 s";
  EXPECT_EQ(inf_->log().count("inf.list", 401) + inf_->log().count("inf.list", 403), 0);
}

TEST_P(InfisicalClientTest, TheServerGenerationIsFoundOnceForAllThreads) {
  identity(std::chrono::hours(1), std::chrono::hours(24));
  auto c = client();
  EXPECT_EQ(c->server_generation(), "unknown");
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::vector<SecretWrite> writes;
        writes.push_back(SecretWrite{"KEY", Secret("v" + std::to_string(i)), {}});
        const std::string path = "/app-" + std::to_string(t);
        if (!c->upsert(path, writes).ok() || !c->list(path).ok()) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  const bool legacy = GetParam();
  EXPECT_EQ(c->server_generation(), legacy ? "v3 (legacy routes)" : "v4");
  // The legacy server answers exactly one "route not found", whatever the number of calls.
  EXPECT_EQ(inf_->route_not_found_count(), legacy ? 1 : 0);
  EXPECT_EQ(inf_->secret("proj-1", "prod", "/app-3", "KEY")->value, "v4");
}

INSTANTIATE_TEST_SUITE_P(ServerGenerations, InfisicalClientTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "LegacyRoutesOnly" : "CurrentRoutes";
                         });

TEST(InfisicalSameValue, FollowsTheServersTrimmingRule) {
  EXPECT_TRUE(infisical_same_value("abc", "abc"));
  EXPECT_TRUE(infisical_same_value("  abc\t", "abc"));
  EXPECT_TRUE(infisical_same_value("abc\n", "abc\n"));
  EXPECT_TRUE(infisical_same_value("abc\n", "abc"));
  EXPECT_FALSE(infisical_same_value("abc", "abd"));
}

}  // namespace
}  // namespace eca

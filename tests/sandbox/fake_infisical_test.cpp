#include "tests/sandbox/fake_infisical.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "tests/sandbox/test_http.h"

namespace eca::sandbox {
namespace {

using testing::Reply;
using testing::TestHttp;
using namespace std::chrono_literals;

constexpr const char* kProject = "5d3a7f9e-1111-4222-8333-944455566677";
constexpr const char* kClient = "2b0c1e6a-aaaa-4bbb-8ccc-ddddeeeeffff";
constexpr const char* kSecret = "a-client-secret";

std::string login_body(const std::string& id, const std::string& secret) {
  return R"({"clientId":")" + id + R"(","clientSecret":")" + secret + R"("})";
}

class FakeInfisicalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inf_.add_identity(kClient, kSecret);
    inf_.add_project(kProject, "proj", {"dev", "prod"});
    inf_.add_member(kProject, kClient);
    inf_.start();
    http_ = std::make_unique<TestHttp>(inf_.base_url());
  }

  void login() {
    const Reply reply =
        http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret));
    ASSERT_EQ(reply.status, 200) << reply.body;
    http_->set_bearer(reply.json()["accessToken"].GetString());
  }

  Reply upsert(const std::string& path, const std::string& secrets_json,
               const std::string& mode = R"("mode":"upsert",)") {
    return http_->patch("/api/v3/secrets/batch/raw", std::string(R"({"workspaceId":")") + kProject +
                                                         R"(","environment":"dev","secretPath":")" +
                                                         path + R"(",)" + mode + R"("secrets":)" +
                                                         secrets_json + "}");
  }

  Reply create(const std::string& name, const std::string& value, const std::string& path = "/") {
    return http_->post("/api/v3/secrets/raw/" + name,
                       std::string(R"({"workspaceId":")") + kProject +
                           R"(","environment":"dev","secretPath":")" + path +
                           R"(","secretValue":)" + value + "}");
  }

  Reply folder(const std::string& parent, const std::string& name) {
    return http_->post("/api/v1/folders", std::string(R"({"workspaceId":")") + kProject +
                                              R"(","environment":"dev","name":")" + name +
                                              R"(","path":")" + parent + R"("})");
  }

  FakeInfisical inf_;
  std::unique_ptr<TestHttp> http_;
};

TEST_F(FakeInfisicalTest, FormEncodedLoginWorksToo) {
  const Reply reply = http_->post_form("/api/v1/auth/universal-auth/login",
                                       {{"clientId", kClient}, {"clientSecret", kSecret}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json()["expiresIn"].GetInt(), 2592000);
}

TEST_F(FakeInfisicalTest, ThreeFailedLoginsLockTheIdentity) {
  inf_.set_lockout({3, 30s, 300s});
  for (int i = 0; i < 3; ++i) {
    const Reply reply =
        http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, "bad"));
    EXPECT_EQ(reply.status, 401);
    EXPECT_STREQ(reply.json()["message"].GetString(), "Invalid credentials");
  }
  // Locked: even the right secret is refused.
  Reply reply = http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret));
  EXPECT_EQ(reply.status, 401);
  EXPECT_STREQ(reply.json()["error"].GetString(), "UnauthorizedError");
  EXPECT_NE(std::string(reply.json()["message"].GetString()).find("temporarily locked"),
            std::string::npos);
  inf_.clock().advance(299s);
  EXPECT_EQ(http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret)).status,
            401);
  inf_.clock().advance(2s);
  EXPECT_EQ(http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret)).status,
            200);
}

TEST_F(FakeInfisicalTest, FailuresOutsideTheWindowDoNotLock) {
  for (int i = 0; i < 4; ++i) {
    http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, "bad"));
    inf_.clock().advance(16s);
  }
  EXPECT_EQ(http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret)).status,
            200);
}

TEST_F(FakeInfisicalTest, TokensExpireWith403TokenError) {
  login();
  EXPECT_EQ(
      http_->get(std::string("/api/v3/secrets/raw?workspaceId=") + kProject + "&environment=dev")
          .status,
      200);
  inf_.clock().advance(std::chrono::hours(24 * 30));
  const Reply reply =
      http_->get(std::string("/api/v3/secrets/raw?workspaceId=") + kProject + "&environment=dev");
  EXPECT_EQ(reply.status, 403);
  EXPECT_STREQ(reply.json()["error"].GetString(), "TokenError");
}

TEST_F(FakeInfisicalTest, RenewGivesANewTokenWhenTtlIsBelowMaxTtl) {
  inf_.add_identity("short", "s", 60s, 100s);
  Reply reply = http_->post("/api/v1/auth/universal-auth/login", login_body("short", "s"));
  const std::string first = reply.json()["accessToken"].GetString();
  EXPECT_EQ(reply.json()["expiresIn"].GetInt(), 60);
  EXPECT_EQ(reply.json()["accessTokenMaxTTL"].GetInt(), 100);
  reply = http_->post("/api/v1/auth/token/renew", R"({"accessToken":")" + first + R"("})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string second = reply.json()["accessToken"].GetString();
  EXPECT_NE(first, second);
  // Renewal may not reach past the first login + max TTL...
  inf_.clock().advance(50s);
  reply = http_->post("/api/v1/auth/token/renew", R"({"accessToken":")" + second + R"("})");
  EXPECT_EQ(reply.status, 401);
  EXPECT_STREQ(reply.json()["message"].GetString(),
               "Failed to renew MI access token past its Max TTL expiration");
  // ...and an expired token is a 403 TokenError.
  inf_.clock().advance(20s);
  reply = http_->post("/api/v1/auth/token/renew", R"({"accessToken":")" + second + R"("})");
  EXPECT_EQ(reply.status, 403);
  EXPECT_STREQ(reply.json()["error"].GetString(), "TokenError");
}

TEST_F(FakeInfisicalTest, RevokedTokensStopWorking) {
  login();
  const Reply reply =
      http_->post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret));
  const std::string token = reply.json()["accessToken"].GetString();
  EXPECT_EQ(
      http_->post("/api/v1/auth/token/revoke", R"({"accessToken":")" + token + R"("})").status,
      200);
  http_->set_bearer(token);
  EXPECT_EQ(
      http_->get(std::string("/api/v3/secrets/raw?workspaceId=") + kProject + "&environment=dev")
          .status,
      401);
}

TEST_F(FakeInfisicalTest, ValuesAreTrimmedKeepingOneFinalNewline) {
  login();
  ASSERT_EQ(create("A", R"("  a  ")").status, 200);
  ASSERT_EQ(create("B", R"("\n b \n\n")").status, 200);
  ASSERT_EQ(create("C", R"("")").status, 200);
  ASSERT_EQ(create("D", R"("line1\nline2")").status, 200);
  EXPECT_EQ(inf_.secret(kProject, "dev", "/", "A")->value, "a");
  EXPECT_EQ(inf_.secret(kProject, "dev", "/", "B")->value, "b\n");
  EXPECT_EQ(inf_.secret(kProject, "dev", "/", "C")->value, "");
  EXPECT_EQ(inf_.secret(kProject, "dev", "/", "D")->value, "line1\nline2");
}

TEST_F(FakeInfisicalTest, MissingFolderThenFolderCreateThenUpsert) {
  login();
  const std::string pair = R"([{"secretKey":"SALESFORCE_CONSUMER_KEY","secretValue":"k1",)"
                           R"("secretMetadata":[{"key":"eca-rotator.fingerprint","value":"f1"}]},)"
                           R"({"secretKey":"SALESFORCE_CONSUMER_SECRET","secretValue":"s1"}])";
  Reply reply = upsert("/salesforce/billing", pair);
  EXPECT_EQ(reply.status, 404);
  EXPECT_STREQ(reply.json()["message"].GetString(), "Folder not found");
  EXPECT_EQ(inf_.write_count(), 0);

  reply = folder("/salesforce", "billing");  // the parent is created on the way
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(inf_.folder_exists(kProject, "dev", "/salesforce"));
  const std::string folder_id = reply.json()["folder"]["id"].GetString();
  reply = folder("/salesforce", "billing");  // idempotent
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.json()["folder"]["id"].GetString(), folder_id);

  reply = upsert("/salesforce/billing", pair);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto doc = reply.json();
  ASSERT_EQ(doc["secrets"].Size(), 2u);
  EXPECT_FALSE(doc["secrets"][0].HasMember("secretMetadata"));  // as recorded (103)
  auto key = inf_.secret(kProject, "dev", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->value, "k1");
  EXPECT_EQ(key->version, 1);
  EXPECT_EQ(key->metadata.at("eca-rotator.fingerprint"), "f1");

  // Unchanged values still bump the version; new metadata replaces the old list;
  // no metadata keeps it.
  reply =
      upsert("/salesforce/billing", R"([{"secretKey":"SALESFORCE_CONSUMER_KEY","secretValue":"k1",)"
                                    R"("secretMetadata":[{"key":"g","value":"2"}]}])");
  ASSERT_EQ(reply.status, 200);
  key = inf_.secret(kProject, "dev", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY");
  EXPECT_EQ(key->version, 2);
  EXPECT_EQ(key->metadata, (std::map<std::string, std::string>{{"g", "2"}}));
  upsert("/salesforce/billing", R"([{"secretKey":"SALESFORCE_CONSUMER_KEY","secretValue":"k2"}])");
  key = inf_.secret(kProject, "dev", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY");
  EXPECT_EQ(key->version, 3);
  EXPECT_EQ(key->metadata.size(), 1u);
  EXPECT_EQ(inf_.versions(kProject, "dev", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY"),
            (std::vector<std::string>{"k1", "k1", "k2"}));
  EXPECT_EQ(inf_.write_count(), 3);

  // The read-back shows the metadata (105).
  reply = http_->get(std::string("/api/v3/secrets/raw/SALESFORCE_CONSUMER_KEY?workspaceId=") +
                     kProject + "&environment=dev&secretPath=/salesforce/billing");
  doc = reply.json();
  EXPECT_STREQ(doc["secret"]["secretMetadata"][0]["key"].GetString(), "g");

  // Without "mode", a missing secret fails the whole batch (106).
  reply = upsert("/salesforce/billing",
                 R"([{"secretKey":"SALESFORCE_CONSUMER_KEY","secretValue":"k3"},)"
                 R"({"secretKey":"NOPE","secretValue":"x"}])",
                 "");
  EXPECT_EQ(reply.status, 404);
  EXPECT_STREQ(reply.json()["message"].GetString(),
               "Secret does not exist: NOPE in path /salesforce/billing");
  EXPECT_EQ(inf_.secret(kProject, "dev", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY")->value,
            "k2");
}

TEST_F(FakeInfisicalTest, BatchCreateAndDelete) {
  login();
  const std::string base =
      std::string(R"({"workspaceId":")") + kProject + R"(","environment":"prod","secrets":)";
  Reply reply = http_->post(
      "/api/v3/secrets/batch/raw",
      base + R"([{"secretKey":"X","secretValue":"1"},{"secretKey":"Y","secretValue":"2"}]})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  reply =
      http_->post("/api/v3/secrets/batch/raw", base + R"([{"secretKey":"X","secretValue":"1"}]})");
  EXPECT_EQ(reply.status, 400);
  reply =
      http_->del("/api/v3/secrets/batch/raw", base + R"([{"secretKey":"X"},{"secretKey":"Y"}]})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_FALSE(inf_.secret(kProject, "prod", "/", "X"));
  EXPECT_EQ(inf_.versions(kProject, "prod", "/", "X"), std::vector<std::string>{"1"});
}

TEST_F(FakeInfisicalTest, V2FolderRouteTakesProjectId) {
  login();
  const Reply reply =
      http_->post("/api/v2/folders", std::string(R"({"projectId":")") + kProject +
                                         R"(","environment":"prod","name":"a","path":"/x/y"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(inf_.folder_exists(kProject, "prod", "/x/y/a"));
  const Reply list = http_->get(std::string("/api/v1/folders?workspaceId=") + kProject +
                                "&environment=prod&path=/x");
  ASSERT_EQ(list.status, 200);
  EXPECT_STREQ(list.json()["folders"][0]["name"].GetString(), "y");
}

TEST_F(FakeInfisicalTest, ApprovalPolicyAnswersApprovalAndStoresNothing) {
  login();
  folder("/", "guarded");
  inf_.set_approval_required(kProject, "dev", "/guarded", true);
  Reply reply = upsert("/guarded", R"([{"secretKey":"K","secretValue":"v"}])");
  ASSERT_EQ(reply.status, 200);
  const auto doc = reply.json();
  EXPECT_TRUE(doc.HasMember("approval"));
  EXPECT_FALSE(doc.HasMember("secrets"));
  EXPECT_FALSE(inf_.secret(kProject, "dev", "/guarded", "K"));
  EXPECT_EQ(create("K", R"("v")", "/guarded").json().HasMember("approval"), true);
  EXPECT_EQ(inf_.write_count(), 0);
  inf_.set_approval_required(kProject, "dev", "/guarded", false);
  EXPECT_EQ(
      upsert("/guarded", R"([{"secretKey":"K","secretValue":"v"}])").json().HasMember("secrets"),
      true);
}

TEST_F(FakeInfisicalTest, RateLimitAnswers429WithOrWithoutRetryAfter) {
  login();
  inf_.set_rate_limit(2, 60s, true);
  const std::string list =
      std::string("/api/v3/secrets/raw?workspaceId=") + kProject + "&environment=dev";
  EXPECT_EQ(http_->get(list).status, 200);
  EXPECT_EQ(http_->get(list).status, 200);
  Reply reply = http_->get(list);
  EXPECT_EQ(reply.status, 429);
  const auto doc = reply.json();
  EXPECT_STREQ(doc["error"].GetString(), "RateLimitExceeded");
  EXPECT_EQ(doc["statusCode"].GetInt(), 429);
  EXPECT_EQ(std::string(doc["reqId"].GetString()).size(), 18u);
  const std::string message = doc["message"].GetString();
  EXPECT_EQ(message.rfind("Rate limit exceeded. Please try again in ", 0), 0u) << message;
  EXPECT_FALSE(reply.header("retry-after").empty());
  inf_.set_rate_limit(1, 60s, false);
  http_->get(list);
  reply = http_->get(list);
  EXPECT_EQ(reply.status, 429);
  EXPECT_TRUE(reply.header("retry-after").empty());
  inf_.set_rate_limit(0, 60s, false);
  EXPECT_EQ(http_->get(list).status, 200);
}

TEST_F(FakeInfisicalTest, CategoryLimitsAreCountedSeparatelyInFixedWindows) {
  login();
  InfisicalRateLimits limits;
  limits.global = 6;
  limits.read = 1;
  limits.secret = 2;
  limits.window = 60s;
  inf_.set_rate_limits(limits);
  // Start at the beginning of a window so that the test cannot straddle two.
  const std::int64_t into = inf_.clock().now_epoch_ms() % 60000;
  inf_.clock().advance(std::chrono::milliseconds(60000 - into));
  const std::string list =
      std::string("/api/v3/secrets/raw?workspaceId=") + kProject + "&environment=dev";
  const std::string folders =
      std::string("/api/v1/folders?workspaceId=") + kProject + "&environment=dev&path=/";
  EXPECT_EQ(http_->get(list).status, 200);
  EXPECT_EQ(http_->get(folders).status, 200);  // a read: the secret budget is untouched
  EXPECT_EQ(http_->get(list).status, 200);
  Reply reply = http_->get(list);  // the third secret operation
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(http_->get(folders).status, 429);  // the second read
  // A write is still within its (unlimited) category and the global cap of 6 (refused
  // requests count too).
  EXPECT_EQ(folder("/", "w").status, 200);
  EXPECT_EQ(folder("/", "x").status, 429);  // the seventh request: the global cap
  EXPECT_EQ(inf_.rate_limited_count(), 3);
  // The wait runs to the end of the window on the sandbox's clock, then all is allowed.
  const std::string wait = reply.header("retry-after");
  EXPECT_EQ(wait, "60");
  EXPECT_EQ(std::string(reply.json()["message"].GetString()),
            "Rate limit exceeded. Please try again in " + wait + " seconds");
  inf_.clock().advance(std::chrono::seconds(std::stol(reply.header("retry-after"))));
  EXPECT_EQ(http_->get(list).status, 200);
  EXPECT_EQ(http_->get(folders).status, 200);
}

TEST_F(FakeInfisicalTest, FreePlanPresetRefusesTheNinetyFirstWriteOfAMinute) {
  login();
  InfisicalRateLimits limits = InfisicalRateLimits::infisical_cloud_free();
  EXPECT_EQ(limits.global, 600);
  EXPECT_EQ(limits.read, 200);
  EXPECT_EQ(limits.secret, 120);
  inf_.set_rate_limits(limits);
  const std::int64_t into = inf_.clock().now_epoch_ms() % 60000;
  inf_.clock().advance(std::chrono::milliseconds(60000 - into));
  int accepted = 0;
  for (int i = 0; i < 95; ++i) {
    if (folder("/", "f" + std::to_string(i)).status == 200) ++accepted;
  }
  EXPECT_EQ(accepted, 90);
}

TEST_F(FakeInfisicalTest, CurrentRoutesShareTheLegacyRoutesState) {
  login();
  // A folder made through v2 and a secret written through v4 (projectId) ...
  Reply reply =
      http_->post("/api/v2/folders", std::string(R"({"projectId":")") + kProject +
                                         R"(","environment":"dev","name":"app","path":"/"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  reply = http_->patch("/api/v4/secrets/batch",
                       std::string(R"({"projectId":")") + kProject +
                           R"(","environment":"dev","secretPath":"/app","mode":"upsert",)"
                           R"("secrets":[{"secretKey":"K","secretValue":" v4 "}]})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  // ... are what the v3 raw route lists, trimmed like every write.
  reply = http_->get(std::string("/api/v3/secrets/raw?workspaceId=") + kProject +
                     "&environment=dev&secretPath=/app");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_STREQ(reply.json()["secrets"][0]["secretValue"].GetString(), "v4");
  reply = http_->get(std::string("/api/v4/secrets?projectId=") + kProject +
                     "&environment=dev&secretPath=/missing");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(inf_.route_not_found_count(), 0);
}

TEST(FakeInfisicalLegacy, CurrentRoutesDoNotExistOnTheLegacyBuild) {
  FakeInfisicalOptions options;
  options.legacy_routes_only = true;
  FakeInfisical inf(options);
  inf.add_identity(kClient, kSecret);
  inf.add_project(kProject, "proj", {"dev"});
  inf.add_member(kProject, kClient);
  inf.start();
  TestHttp http(inf.base_url());
  const Reply login = http.post("/api/v1/auth/universal-auth/login", login_body(kClient, kSecret));
  http.set_bearer(login.json()["accessToken"].GetString());
  Reply reply = http.patch("/api/v4/secrets/batch", "{}");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body, R"({"message":"Route PATCH:/api/v4/secrets/batch not found",)"
                        R"("error":"Not Found","statusCode":404})");
  reply = http.get("/api/v2/folders?projectId=x&environment=dev&path=/");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(inf.route_not_found_count(), 2);
}

TEST_F(FakeInfisicalTest, ParallelFolderCreatesDuplicateTheMissingParent) {
  login();
  Reply first;
  std::thread racer([&] {
    TestHttp other(inf_.base_url());
    other.set_bearer(http_->bearer());
    first = other.post("/api/v1/folders", std::string(R"({"workspaceId":")") + kProject +
                                              R"(","environment":"dev","name":"a","path":"/p"})");
  });
  std::this_thread::sleep_for(5ms);
  const Reply second = folder("/p", "b");
  racer.join();
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(second.status, 200) << second.body;
  // Two "p" folders at the root, each with one child; secrets reach both children.
  const Reply root = http_->get(std::string("/api/v1/folders?workspaceId=") + kProject +
                                "&environment=dev&path=/");
  ASSERT_EQ(root.json()["folders"].Size(), 2u) << root.body;
  EXPECT_EQ(upsert("/p/a", R"([{"secretKey":"K","secretValue":"a"}])").status, 200);
  EXPECT_EQ(upsert("/p/b", R"([{"secretKey":"K","secretValue":"b"}])").status, 200);
  const Reply under = http_->get(std::string("/api/v1/folders?workspaceId=") + kProject +
                                 "&environment=dev&path=/p");
  EXPECT_EQ(under.json()["folders"].Size(), 1u) << under.body;
}

TEST_F(FakeInfisicalTest, WriteObserverSeesStoredValues) {
  // The observer runs on a server thread; the answer the client reads orders it before
  // the checks below, but only through the socket, which ThreadSanitizer cannot see.
  std::mutex mu;
  std::vector<WriteEvent> observed;
  inf_.on_write([&](const WriteEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    observed.push_back(e);
  });
  auto snapshot = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return observed;
  };
  login();
  folder("/", "app");
  upsert("/app", R"([{"secretKey":"K","secretValue":" v "}])");
  std::vector<WriteEvent> events = snapshot();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].endpoint, "inf.upsert");
  EXPECT_EQ(events[0].path, "/app");
  EXPECT_EQ(events[0].environment, "dev");
  EXPECT_EQ(events[0].written, (std::vector<std::pair<std::string, std::string>>{{"K", "v"}}));
  inf_.put_secret(kProject, "dev", "/seeded/deep", "OTHER", "x", {{"owner", "someone"}});
  EXPECT_EQ(snapshot().size(), 1u);  // seeding is not observed
  EXPECT_EQ(inf_.secret(kProject, "dev", "/seeded/deep", "OTHER")->metadata.at("owner"), "someone");
}

TEST_F(FakeInfisicalTest, ListRecursiveBelowAFolder) {
  login();
  inf_.put_secret(kProject, "dev", "/a", "A", "1");
  inf_.put_secret(kProject, "dev", "/a/b", "B", "2");
  inf_.put_secret(kProject, "dev", "/ab", "C", "3");
  const Reply reply = http_->get(std::string("/api/v3/secrets/raw?workspaceId=") + kProject +
                                 "&environment=dev&secretPath=/a&recursive=true");
  const auto doc = reply.json();
  ASSERT_EQ(doc["secrets"].Size(), 2u);
  EXPECT_STREQ(doc["secrets"][1]["secretPath"].GetString(), "/a/b");
}

}  // namespace
}  // namespace eca::sandbox

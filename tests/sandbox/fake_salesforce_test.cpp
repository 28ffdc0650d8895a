#include "tests/sandbox/fake_salesforce.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "tests/sandbox/test_http.h"

namespace eca::sandbox {
namespace {

using testing::Reply;
using testing::TestHttp;
using namespace std::chrono_literals;

constexpr const char* kApi = "/services/data/v65.0/apps/oauth";

class FakeSalesforceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeSalesforceOptions options;
    options.stage_hang = 300ms;
    sf_ = std::make_unique<FakeSalesforce>(options);
    connection_ = sf_->add_app("Connection_App");
    target_ = sf_->add_app("Billing_ECA", "Billing");
    sf_->start();
    http_ = std::make_unique<TestHttp>(sf_->base_url());
  }

  Reply token_request(const std::string& key, const std::string& secret,
                      const std::string& grant = "client_credentials") {
    return http_->post_form("/services/oauth2/token",
                            {{"grant_type", grant}, {"client_id", key}, {"client_secret", secret}});
  }

  // Logs in with the connection app's credentials; REST calls then carry the token.
  void login() {
    const Reply reply = token_request(connection_.primary().key, connection_.primary().secret);
    ASSERT_EQ(reply.status, 200) << reply.body;
    http_->set_bearer(reply.json()["access_token"].GetString());
  }

  std::string consumer_url() const {
    return std::string(kApi) + "/credentials/" + target_.id + "/" + target_.consumer_id();
  }

  static std::string error_code(const Reply& reply) {
    const auto doc = reply.json();
    if (!doc.IsArray() || doc.Empty()) return "<not an error array: " + reply.body + ">";
    return doc[0]["errorCode"].GetString();
  }

  std::unique_ptr<FakeSalesforce> sf_;
  std::unique_ptr<TestHttp> http_;
  AppInfo connection_;
  AppInfo target_;
};

TEST_F(FakeSalesforceTest, TokenAnswerHasTheRecordedFieldsAndNoExpiresIn) {
  const Reply reply = token_request(connection_.primary().key, connection_.primary().secret);
  ASSERT_EQ(reply.status, 200);
  const auto doc = reply.json();
  for (const char* field :
       {"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"}) {
    ASSERT_TRUE(doc.HasMember(field)) << field;
    EXPECT_TRUE(doc[field].IsString()) << field;
  }
  EXPECT_FALSE(doc.HasMember("expires_in"));
  EXPECT_FALSE(doc.HasMember("refresh_token"));
  EXPECT_STREQ(doc["token_type"].GetString(), "Bearer");
  EXPECT_EQ(doc["instance_url"].GetString(), sf_->base_url());
  // issued_at: epoch milliseconds, as a string.
  const std::string issued = doc["issued_at"].GetString();
  EXPECT_EQ(issued.size(), 13u);
  EXPECT_NEAR(std::stoll(issued) / 1000.0, static_cast<double>(std::time(nullptr)), 5.0);
}

TEST_F(FakeSalesforceTest, TokenErrorsAreFlatObjects) {
  Reply reply = token_request(connection_.primary().key, "wrong");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body,
            R"({"error":"invalid_client","error_description":"invalid client credentials"})");
  reply = token_request("3MVG9unknown", "x");
  EXPECT_EQ(reply.status, 400);
  EXPECT_STREQ(reply.json()["error"].GetString(), "invalid_client_id");
  reply = token_request(connection_.primary().key, connection_.primary().secret, "password");
  EXPECT_EQ(reply.status, 400);
  EXPECT_STREQ(reply.json()["error"].GetString(), "unsupported_grant_type");
}

TEST_F(FakeSalesforceTest, KeysNeedUrlEncodingAndAreFreshEachTime) {
  const AppInfo other = sf_->add_app("Other");
  EXPECT_NE(other.primary().key, target_.primary().key);
  EXPECT_EQ(other.primary().key.rfind("3MVG9", 0), 0u);
  EXPECT_EQ(other.primary().secret.size(), 64u);
  EXPECT_EQ(other.id.size(), 18u);
  EXPECT_EQ(other.id.rfind("0xI", 0), 0u);
  EXPECT_EQ(other.consumer_id().rfind("888", 0), 0u);
  EXPECT_TRUE(sf_->authenticates(other.primary().key, other.primary().secret));
}

TEST_F(FakeSalesforceTest, RestNeedsAValidTokenThatExpiresWithTheFakeClock) {
  Reply reply = http_->get(std::string(kApi) + "/usage");
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(reply.body,
            R"([{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}])");
  login();
  EXPECT_EQ(http_->get(std::string(kApi) + "/usage").status, 200);
  sf_->clock().advance(2h + 1s);
  EXPECT_EQ(error_code(http_->get(std::string(kApi) + "/usage")), "INVALID_SESSION_ID");
  login();
  EXPECT_EQ(http_->get(std::string(kApi) + "/usage").status, 200);
  sf_->expire_all_tokens();
  EXPECT_EQ(http_->get(std::string(kApi) + "/usage").status, 401);
}

TEST_F(FakeSalesforceTest, OldApiVersionsAndUnknownRoutesAre404) {
  login();
  Reply reply = http_->get("/services/data/v64.0/apps/oauth/usage");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(error_code(reply), "NOT_FOUND");
  EXPECT_EQ(http_->get("/services/data/v66.0/apps/oauth/usage").status, 200);
  EXPECT_EQ(http_->get("/services/data/v65.0/apps/oauth/nothing").status, 404);
  EXPECT_EQ(http_->get(std::string(kApi) + "/credentials/0xI000000000000AAA").status, 404);
  reply = http_->del(consumer_url() + "/staged");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(error_code(reply), "METHOD_NOT_ALLOWED");
}

TEST_F(FakeSalesforceTest, LimitsCountEveryRestCallButNotTokenRequests) {
  const DailyApiUsage fresh = sf_->daily_api();
  EXPECT_EQ(fresh.max, 15000);
  EXPECT_EQ(fresh.remaining, 15000);
  login();
  login();  // token requests are free
  EXPECT_EQ(sf_->daily_api().remaining, 15000);
  EXPECT_EQ(http_->get(std::string(kApi) + "/usage").status, 200);
  EXPECT_EQ(http_->get(std::string(kApi) + "/nothing").status, 404);  // counted too
  const Reply reply = http_->get("/services/data/v65.0/limits");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto doc = reply.json();
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["DailyApiRequests"]["Max"].GetInt64(), 15000);
  EXPECT_EQ(doc["DailyApiRequests"]["Remaining"].GetInt64(), 15000 - 3);  // /limits counts
  EXPECT_TRUE(doc.HasMember("DailyBulkApiBatches"));
  EXPECT_EQ(sf_->rest_requests(), 3);
  EXPECT_EQ(http_->post("/services/data/v65.0/limits", "{}").status, 405);
}

TEST_F(FakeSalesforceTest, AnExhaustedBudgetAnswers403UntilTheNextUtcMidnight) {
  login();
  sf_->set_daily_api(100, 1);
  EXPECT_EQ(http_->get(std::string(kApi) + "/usage").status, 200);
  const Reply refused = http_->get(std::string(kApi) + "/usage");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(error_code(refused), "REQUEST_LIMIT_EXCEEDED");
  EXPECT_EQ(http_->get("/services/data/v65.0/limits").status, 403);
  EXPECT_EQ(sf_->daily_api().remaining, 0);
  EXPECT_EQ(sf_->rest_requests(), 1);  // refused calls are not served
  // Midnight UTC of the fake clock's day, plus a second.
  const auto now = sf_->clock().now();
  const auto day = std::chrono::floor<std::chrono::hours>(now.time_since_epoch()).count() / 24;
  const auto midnight = FakeClock::time_point(std::chrono::hours((day + 1) * 24));
  sf_->clock().advance(std::chrono::duration_cast<std::chrono::milliseconds>(midnight - now) + 1s);
  login();
  EXPECT_EQ(sf_->daily_api().remaining, 100);
  EXPECT_EQ(http_->get(std::string(kApi) + "/usage").status, 200);
  EXPECT_EQ(sf_->daily_api().remaining, 99);
}

TEST_F(FakeSalesforceTest, LimitsAdminRouteSetsMaxAndRemaining) {
  Reply reply = http_->post("/__sandbox/limits", R"({"max":2000,"remaining":150})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json()["remaining"].GetInt64(), 150);
  EXPECT_EQ(sf_->daily_api().max, 2000);
  EXPECT_EQ(http_->post("/__sandbox/limits", R"({"max":-1})").status, 400);
  EXPECT_EQ(http_->post("/__sandbox/limits", R"({"remaining":"x"})").status, 400);
  reply = http_->get("/__sandbox/limits");
  EXPECT_EQ(reply.json()["max"].GetInt64(), 2000);
  EXPECT_EQ(reply.json()["remaining"].GetInt64(), 150);
}

TEST_F(FakeSalesforceTest, UsagePagingKeepsANextPageUrlOnTheLastPage) {
  sf_->add_app("Never_Used", "", 1, /*never_used=*/true);
  login();
  Reply reply = http_->get(std::string(kApi) + "/usage?page=0&pageSize=1");
  ASSERT_EQ(reply.status, 200);
  auto doc = reply.json();
  ASSERT_EQ(doc["apps"].Size(), 1u);
  EXPECT_EQ(doc["apps"][0]["identifier"].GetString(), connection_.id);
  EXPECT_STREQ(doc["nextPageUrl"].GetString(),
               "/services/data/v65.0/apps/oauth/usage?page=1&pageSize=1");

  reply = http_->get(std::string(kApi) + "/usage?page=1&pageSize=1");  // the last page
  doc = reply.json();
  ASSERT_EQ(doc["apps"].Size(), 1u);
  EXPECT_STREQ(doc["apps"][0]["developerName"].GetString(), "Billing_ECA");
  EXPECT_TRUE(doc["nextPageUrl"].IsString());  // the quirk

  reply = http_->get(std::string(kApi) + "/usage?page=2&pageSize=1");  // past the end
  doc = reply.json();
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(doc["apps"].Empty());
  EXPECT_TRUE(doc["nextPageUrl"].IsString());

  // The never-used app is missing from R1 but its credentials are there (R2).
  reply = http_->get(std::string(kApi) + "/usage?pageSize=100");
  EXPECT_EQ(reply.json()["apps"].Size(), 2u);
  EXPECT_EQ(sf_->apps().size(), 3u);
}

TEST_F(FakeSalesforceTest, ConsumersListsPrimaryKeysAndAccepts15CharacterIds) {
  const AppInfo two = sf_->add_app("Two_Consumers", "", 2);
  login();
  Reply reply = http_->get(std::string(kApi) + "/credentials/" + two.id.substr(0, 15));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto doc = reply.json();
  ASSERT_EQ(doc["consumers"].Size(), 2u);
  EXPECT_EQ(doc["consumers"][0]["id"].GetString(), two.consumers[0].id);
  EXPECT_EQ(doc["consumers"][0]["key"].GetString(), two.consumers[0].primary.key);
  EXPECT_EQ(doc["consumers"][1]["key"].GetString(), two.consumers[1].primary.key);
  EXPECT_EQ(std::string(doc["consumers"][0]["stagedCredentialsUrl"].GetString()),
            std::string(kApi) + "/credentials/" + two.id + "/" + two.consumers[0].id + "/staged");
  EXPECT_TRUE(doc["nextPageUrl"].IsNull());
  // Paged when asked, with the same last-page quirk.
  reply = http_->get(std::string(kApi) + "/credentials/" + two.id + "?page=1&pageSize=1");
  doc = reply.json();
  ASSERT_EQ(doc["consumers"].Size(), 1u);
  EXPECT_EQ(doc["consumers"][0]["id"].GetString(), two.consumers[1].id);
  EXPECT_TRUE(doc["nextPageUrl"].IsString());
  reply = http_->get(std::string(kApi) + "/credentials/" + two.id + "?page=2&pageSize=1");
  EXPECT_TRUE(reply.json()["consumers"].Empty());
  // Ids are case-sensitive.
  std::string lower = two.id.substr(0, 15);
  lower[5] = lower[5] == 'a' ? 'b' : 'a';
  EXPECT_EQ(http_->get(std::string(kApi) + "/credentials/" + lower).status, 404);
}

TEST_F(FakeSalesforceTest, ReadPrimaryReturnsTheRequestedParts) {
  login();
  auto doc = http_->get(consumer_url() + "?part=key").json();
  EXPECT_EQ(doc["key"].GetString(), target_.primary().key);
  EXPECT_FALSE(doc.HasMember("secret"));
  doc = http_->get(consumer_url() + "?part=secret").json();
  EXPECT_EQ(doc["secret"].GetString(), target_.primary().secret);
  EXPECT_FALSE(doc.HasMember("key"));
  doc = http_->get(consumer_url() + "?part=keyandsecret").json();
  EXPECT_EQ(doc["key"].GetString(), target_.primary().key);
  EXPECT_EQ(doc["secret"].GetString(), target_.primary().secret);
  EXPECT_EQ(http_->get(consumer_url() + "?part=bogus").status, 400);
}

TEST_F(FakeSalesforceTest, SecretRoutesAre403WhenTheOrgSettingIsOff) {
  sf_->set_rest_secret_access(false);
  login();
  for (const std::string& path : {consumer_url() + "?part=key", consumer_url() + "/staged",
                                  consumer_url() + "/staged/0Ls000000000000AAA"}) {
    const Reply reply = http_->get(path);
    EXPECT_EQ(reply.status, 403) << path;
    EXPECT_EQ(error_code(reply), "FUNCTIONALITY_NOT_ENABLED");
    EXPECT_NE(reply.body.find("not currently enabled"), std::string::npos);
  }
  EXPECT_EQ(http_->post(consumer_url() + "/staged", "{}").status, 403);
  EXPECT_EQ(http_->get(std::string(kApi) + "/credentials/" + target_.id).status, 200);
  EXPECT_FALSE(sf_->staged(target_.id));
}

TEST_F(FakeSalesforceTest, StagedLifecycleStagePromoteExpireRevoke) {
  login();
  const Credential old = target_.primary();
  EXPECT_TRUE(http_->get(consumer_url() + "/staged").json()["stagedCredentials"].Empty());

  // R5: a new Active credential; both it and the primary authenticate.
  Reply reply = http_->post(consumer_url() + "/staged", "{}");
  ASSERT_EQ(reply.status, 201) << reply.body;
  auto doc = reply.json();
  ASSERT_EQ(doc["stagedCredentials"].Size(), 1u);
  const auto& staged = doc["stagedCredentials"][0];
  const Credential fresh{staged["key"].GetString(), staged["secret"].GetString()};
  const std::string staged_id = staged["id"].GetString();
  EXPECT_STREQ(staged["state"].GetString(), "Active");
  EXPECT_EQ(staged_id.size(), 18u);
  EXPECT_EQ(staged_id.rfind("0Ls", 0), 0u);
  EXPECT_TRUE(staged["expirationDate"].IsNull());
  EXPECT_EQ(std::string(staged["createdDate"].GetString()).size(), 28u);  // ...000+0000
  EXPECT_NE(fresh.key, old.key);
  EXPECT_TRUE(sf_->authenticates(fresh.key, fresh.secret));
  EXPECT_TRUE(sf_->authenticates(old.key, old.secret));
  EXPECT_EQ(token_request(fresh.key, fresh.secret).status, 200);

  // The one slot is taken.
  reply = http_->post(consumer_url() + "/staged", "{}");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body, R"([{"errorCode":"INVALID_INPUT",)"
                        R"("message":"A staged credential already exists for this consumer"}])");

  // R6 and R4 show it.
  reply = http_->get(consumer_url() + "/staged/" + staged_id);
  EXPECT_EQ(reply.json()["key"].GetString(), fresh.key);
  EXPECT_EQ(http_->get(consumer_url() + "/staged").json()["stagedCredentials"].Size(), 1u);

  // R7: unknown command refused, then promote.
  EXPECT_EQ(http_->patch(consumer_url() + "/staged/" + staged_id, R"({"command":"nope"})").status,
            400);
  reply = http_->patch(consumer_url() + "/staged/" + staged_id, R"({"command":"rotate"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(sf_->primary(target_.id)->key, fresh.key);
  auto slot = sf_->staged(target_.id);
  ASSERT_TRUE(slot);
  EXPECT_EQ(slot->state, StagedState::Rotated);
  EXPECT_EQ(slot->credential.key, old.key);
  ASSERT_TRUE(slot->expiration_date);
  const double days =
      std::chrono::duration<double>(*slot->expiration_date - sf_->clock().now()).count() / 86400.0;
  EXPECT_NEAR(days, 30.0, 0.01);
  EXPECT_TRUE(sf_->authenticates(old.key, old.secret));  // Rotated still works
  doc = http_->get(consumer_url()).json();               // R3 reads the new primary
  EXPECT_EQ(doc["key"].GetString(), fresh.key);
  // R2 lists the new primary key.
  doc = http_->get(std::string(kApi) + "/credentials/" + target_.id).json();
  EXPECT_EQ(doc["consumers"][0]["key"].GetString(), fresh.key);
  // Promoting a Rotated credential is refused.
  EXPECT_EQ(http_->patch(consumer_url() + "/staged/" + slot->id, R"({"command":"rotate"})").status,
            400);

  // 30 days of fake time later the Rotated credential stops working.
  sf_->clock().advance(std::chrono::hours(24 * 30) - 1min);
  EXPECT_TRUE(sf_->authenticates(old.key, old.secret));
  sf_->clock().advance(2min);
  EXPECT_FALSE(sf_->authenticates(old.key, old.secret));
  EXPECT_EQ(sf_->staged(target_.id)->state, StagedState::Expired);
  EXPECT_STREQ(token_request(old.key, old.secret).json()["error"].GetString(), "invalid_client_id");
  login();  // the session expired meanwhile
  EXPECT_STREQ(
      http_->get(consumer_url() + "/staged").json()["stagedCredentials"][0]["state"].GetString(),
      "Expired");

  // R8 deletes; again is 404.
  reply = http_->del(consumer_url() + "/staged/" + slot->id);
  EXPECT_EQ(reply.status, 204);
  EXPECT_TRUE(reply.body.empty());
  EXPECT_FALSE(sf_->staged(target_.id));
  reply = http_->del(consumer_url() + "/staged/" + slot->id);
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(error_code(reply), "NOT_FOUND");
  EXPECT_TRUE(sf_->authenticates(fresh.key, fresh.secret));
}

TEST_F(FakeSalesforceTest, RevokingARotatedCredentialStopsItAtOnce) {
  login();
  const Credential old = target_.primary();
  const auto staged = sf_->stage_by_hand(target_.id);
  ASSERT_TRUE(staged);
  ASSERT_TRUE(sf_->promote_by_hand(target_.id));
  const auto rotated = sf_->staged(target_.id);
  EXPECT_EQ(http_->del(consumer_url() + "/staged/" + rotated->id.substr(0, 15)).status, 204);
  EXPECT_FALSE(sf_->authenticates(old.key, old.secret));
  EXPECT_TRUE(sf_->authenticates(staged->credential.key, staged->credential.secret));
}

TEST_F(FakeSalesforceTest, ReplaceRotatedPolicyStagesOverARotatedCredential) {
  login();
  ASSERT_TRUE(sf_->stage_by_hand(target_.id));
  ASSERT_TRUE(sf_->promote_by_hand(target_.id));
  const auto rotated = sf_->staged(target_.id);
  EXPECT_EQ(http_->post(consumer_url() + "/staged", "{}").status, 400);
  sf_->set_slot_policy(SlotPolicy::ReplaceRotated);
  const Reply reply = http_->post(consumer_url() + "/staged", "{}");
  ASSERT_EQ(reply.status, 201);
  EXPECT_EQ(sf_->staged(target_.id)->state, StagedState::Active);
  EXPECT_FALSE(sf_->authenticates(rotated->credential.key, rotated->credential.secret));
  // An Active one is never replaced.
  EXPECT_EQ(http_->post(consumer_url() + "/staged", "{}").status, 400);
}

TEST_F(FakeSalesforceTest, BodylessStagePostHangsThenDrops) {
  login();
  const std::string token = [&] {
    return std::string(token_request(connection_.primary().key, connection_.primary().secret)
                           .json()["access_token"]
                           .GetString());
  }();
  // Content-Length: 0 through a real client: no answer, the connection drops.
  const auto start = std::chrono::steady_clock::now();
  Reply reply = http_->post(consumer_url() + "/staged", "");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.status, 0);
  EXPECT_NE(reply.error, httplib::Error::Success);
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 5s);
  EXPECT_FALSE(sf_->staged(target_.id));
  EXPECT_EQ(sf_->log().count("sf.stage", 0), 1);

  // No Content-Length at all, raw: also nothing but a dropped connection.
  const auto raw = testing::raw_exchange(
      sf_->port(),
      "POST " + consumer_url() + "/staged HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
          token + "\r\nAccept: application/json\r\n\r\n",
      3s);
  EXPECT_TRUE(raw.received.empty()) << raw.received;
  EXPECT_TRUE(raw.closed);
  EXPECT_TRUE(raw.reset);
  EXPECT_FALSE(sf_->staged(target_.id));

  // With `{}` it answers at once.
  EXPECT_EQ(http_->post(consumer_url() + "/staged", "{}").status, 201);
}

TEST_F(FakeSalesforceTest, StopWakesAHangingRequest) {
  sf_->set_stage_hang(30s);
  login();
  std::thread client([this] { http_->post(consumer_url() + "/staged", ""); });
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  sf_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  client.join();
}

TEST_F(FakeSalesforceTest, ObserversSeeEveryCredentialChange) {
  // The observer runs on a server thread; each answer orders it before the check, but
  // only through the socket, which ThreadSanitizer cannot see: hence the lock.
  std::mutex mu;
  std::vector<std::string> seen;
  sf_->on_credential_change([&](const CredentialChange& c) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(c.what);
  });
  login();
  const auto staged = http_->post(consumer_url() + "/staged", "{}").json();
  const std::string id = staged["stagedCredentials"][0]["id"].GetString();
  http_->patch(consumer_url() + "/staged/" + id, R"({"command":"rotate"})");
  const std::string rotated = sf_->staged(target_.id)->id;
  http_->del(consumer_url() + "/staged/" + rotated);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"stage", "promote", "revoke"}));
}

TEST_F(FakeSalesforceTest, RequestLogKeepsPathsWithoutQueries) {
  login();
  http_->get(consumer_url() + "?part=keyandsecret");
  const auto entries = sf_->log().entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].endpoint, "sf.token");
  EXPECT_EQ(entries[1].endpoint, "sf.read_primary");
  EXPECT_EQ(entries[1].path, consumer_url());
  EXPECT_EQ(entries[1].status, 200);
  EXPECT_EQ(sf_->request_count("sf.token"), 1);
  sf_->clear_log();
  EXPECT_EQ(sf_->request_count("*"), 0);
}

TEST(FakeSalesforceHttps, ServesTlsWithTheTestCa) {
  const std::string tls = ECA_SOURCE_DIR "/tests/data/tls";
  FakeSalesforceOptions options;
  options.server.cert_file = tls + "/server.pem";
  options.server.key_file = tls + "/server.key";
  FakeSalesforce sf(options);
  const AppInfo app = sf.add_app("Connection_App");
  sf.start();
  EXPECT_EQ(sf.base_url().rfind("https://127.0.0.1:", 0), 0u);
  TestHttp trusted(sf.base_url(), tls + "/ca.pem");
  EXPECT_EQ(trusted
                .post_form("/services/oauth2/token", {{"grant_type", "client_credentials"},
                                                      {"client_id", app.primary().key},
                                                      {"client_secret", app.primary().secret}})
                .status,
            200);
  TestHttp untrusted(sf.base_url(), tls + "/other-ca.pem");
  const Reply reply = untrusted.post_form("/services/oauth2/token", {{"grant_type", "x"}});
  EXPECT_EQ(reply.status, 0);
  EXPECT_EQ(reply.error, httplib::Error::SSLServerVerification);
}

}  // namespace
}  // namespace eca::sandbox

namespace eca::sandbox {
namespace {

// The checked-in failure cases: a certificate for another host from the trusted
// CA, and one for the right host from an untrusted CA.
TEST(FakeSalesforceHttps, TestMaterialForFailingVerification) {
  const std::string tls = ECA_SOURCE_DIR "/tests/data/tls";
  for (const char* name : {"wrong-host", "untrusted"}) {
    SCOPED_TRACE(name);
    FakeSalesforceOptions options;
    options.server.cert_file = tls + "/" + name + ".pem";
    options.server.key_file = tls + "/" + name + ".key";
    FakeSalesforce sf(options);
    sf.start();
    testing::TestHttp client(sf.base_url(), tls + "/ca.pem");
    const testing::Reply reply = client.get("/services/data/v65.0/apps/oauth/usage");
    EXPECT_EQ(reply.status, 0);
    EXPECT_EQ(reply.error, httplib::Error::SSLServerVerification);
  }
}

}  // namespace
}  // namespace eca::sandbox

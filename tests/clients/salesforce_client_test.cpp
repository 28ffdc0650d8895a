// SalesforceClient against the fake org: paging quirks, token expiry, error shapes.
#include "clients/salesforce_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "clients/curl_transport.h"
#include "tests/sandbox/fake_salesforce.h"

namespace eca {
namespace {

using sandbox::FakeSalesforce;
using sandbox::Fault;

class SalesforceClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox::FakeSalesforceOptions o;
    o.default_page_size = 2;
    o.stage_hang = std::chrono::milliseconds(3000);
    sf_ = std::make_unique<FakeSalesforce>(o);
    sf_->start();
    conn_ = sf_->add_app("Connection_App");
    SalesforceEndpoint ep;
    ep.name = "acme";
    ep.my_domain_url = sf_->base_url();
    ep.client_id = conn_.primary().key;
    ep.client_secret = Secret(conn_.primary().secret);
    client_ = std::make_unique<SalesforceClient>(transport_, std::move(ep));
  }
  void TearDown() override { sf_->stop(); }

  std::unique_ptr<FakeSalesforce> sf_;
  sandbox::AppInfo conn_;
  CurlTransport transport_;
  std::unique_ptr<SalesforceClient> client_;
};

TEST_F(SalesforceClientTest, ListsEveryPageDespiteANextPageUrlOnTheLastOne) {
  for (int i = 0; i < 5; ++i) sf_->add_app("App_" + std::to_string(i));
  sf_->add_app("Never_Used", "", 1, /*never_used=*/true);
  auto apps = client_->apps(2);
  ASSERT_TRUE(apps.ok()) << apps.error().message;
  EXPECT_EQ(apps->size(), 6u) << "connection app + 5; the never-used app is not listed";
  EXPECT_LE(sf_->request_count("sf.usage"), 5) << "stops at the empty page";
}

TEST_F(SalesforceClientTest, ExpiredTokenIsFetchedAgainOnceAndTheCallRepeated) {
  auto app = sf_->add_app("Billing");
  ASSERT_TRUE(client_->consumers(app.id).ok());
  sf_->expire_all_tokens();
  auto again = client_->consumers(app.id);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(sf_->request_count("sf.token"), 2);
  EXPECT_EQ(sf_->request_count("sf.consumers"), 3);
}

TEST_F(SalesforceClientTest, ABurstOfFirstCallsFetchesOneToken) {
  auto app = sf_->add_app("Billing");
  Fault slow_token;
  slow_token.endpoint = "sf.token";
  slow_token.latency_ms = 200;  // every worker finds the cache empty while the fetch runs
  sf_->inject(slow_token);
  std::vector<std::thread> workers;
  std::atomic<int> failed{0};
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([&] {
      if (!client_->consumers(app.id).ok()) ++failed;
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(sf_->request_count("sf.token"), 1);
  EXPECT_EQ(sf_->request_count("sf.consumers"), 8);
}

TEST_F(SalesforceClientTest, StagingSendsABodySoItNeverHangs) {
  auto app = sf_->add_app("Billing");
  auto staged = client_->stage(app.id, app.consumer_id());
  ASSERT_TRUE(staged.ok()) << staged.error().message;
  EXPECT_FALSE(staged->id.empty());
  EXPECT_TRUE(sf_->authenticates(staged->key.view(), staged->secret.view()));
  EXPECT_TRUE(client_->verify(staged->key, staged->secret).ok());
}

TEST_F(SalesforceClientTest, RestAccessDisabledNamesTheOrgSetting) {
  auto app = sf_->add_app("Billing");
  sf_->set_rest_secret_access(false);
  auto slot = client_->staged(app.id, app.consumer_id());
  ASSERT_FALSE(slot.ok());
  EXPECT_EQ(slot.error().kind, ErrorKind::Permanent);
  EXPECT_NE(slot.error().message.find("Allow access to External Client App consumer secrets"),
            std::string::npos)
      << slot.error().message;
}

TEST_F(SalesforceClientTest, RequestLimitIsTransientWithAWait) {
  auto app = sf_->add_app("Billing");
  sf_->inject(Fault::answer(
      "sf.consumers", 403,
      R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}])"));
  auto r = client_->consumers(app.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Transient);
  EXPECT_GT(r.error().retry_after.count(), 0);
  sf_->inject(Fault::answer("sf.consumers", 503, "[]"));
  EXPECT_EQ(client_->consumers(app.id).error().kind, ErrorKind::Transient);
}

TEST_F(SalesforceClientTest, WrongConnectionSecretIsAnAuthErrorWithoutTheSecret) {
  const std::string canary = "definitely-wrong-secret";
  SalesforceEndpoint ep;
  ep.name = "acme";
  ep.my_domain_url = sf_->base_url();
  ep.client_id = conn_.primary().key;
  ep.client_secret = Secret(canary);
  SalesforceClient bad(transport_, std::move(ep));
  // A server that echoes what it was sent, as some validation errors do: the secret is in
  // the answer, so only the client's scrubbing keeps it out of the error.
  sf_->inject(Fault::answer(
      "sf.token", 400,
      R"({"error":"invalid_client","error_description":"invalid client credentials for client_secret=)" +
          canary + R"("})"));
  auto r = bad.authenticate();
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(sf_->log().count("sf.token", 400), 1) << "the echoing answer was served";
  EXPECT_EQ(r.error().kind, ErrorKind::Auth);
  EXPECT_EQ(r.error().code, "invalid_client");
  EXPECT_NE(r.error().describe().find("invalid client credentials"), std::string::npos)
      << r.error().describe();
  EXPECT_EQ(r.error().message.find(canary), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().describe().find(canary), std::string::npos) << r.error().describe();
  EXPECT_EQ(r.error().code.find(canary), std::string::npos);
}

TEST_F(SalesforceClientTest, LostDeleteAnswerIsNeverAFailureAndAGoneCredentialIsSuccess) {
  auto app = sf_->add_app("Billing");
  auto staged = client_->stage(app.id, app.consumer_id());
  ASSERT_TRUE(staged.ok());
  sf_->inject(Fault::lose_answer("sf.revoke"));
  // libcurl resends a request once when a reused connection dies before any answer; the
  // resent DELETE then meets 404. Either way the caller must not be told it failed for sure.
  auto lost = client_->revoke(app.id, app.consumer_id(), staged->id);
  const int sent = sf_->request_count("sf.revoke");
  ASSERT_GE(sent, 1);
  if (sent >= 2) {
    EXPECT_TRUE(lost.ok()) << "the resent DELETE met 404, which means already gone: "
                           << lost.error().describe();
  } else {
    ASSERT_FALSE(lost.ok()) << "no answer at all cannot be a success";
    EXPECT_EQ(lost.error().kind, ErrorKind::Unknown) << lost.error().describe();
  }
  EXPECT_FALSE(sf_->staged(app.id).has_value());
  EXPECT_TRUE(client_->revoke(app.id, app.consumer_id(), staged->id).ok()) << "404 = already gone";
  // The resend loses its answer too: nobody knows whether the DELETE happened.
  auto again = client_->stage(app.id, app.consumer_id());
  ASSERT_TRUE(again.ok());
  sf_->inject(Fault::lose_answer("sf.revoke", 2));
  auto unknown = client_->revoke(app.id, app.consumer_id(), again->id);
  ASSERT_FALSE(unknown.ok()) << "no answer at all cannot be a success";
  EXPECT_EQ(unknown.error().kind, ErrorKind::Unknown) << unknown.error().describe();
  EXPECT_FALSE(sf_->staged(app.id).has_value()) << "it did happen";
}

TEST(SameSfId, ComparesFifteenCharsCaseSensitively) {
  EXPECT_TRUE(same_sf_id("0xIKj0000000001", "0xIKj0000000001AAA"));
  EXPECT_FALSE(same_sf_id("0xIKj0000000001", "0xIKJ0000000001AAA"));
  EXPECT_TRUE(same_sf_id("0xIKj0000000001AAA", "0xIKj0000000001AAA"));
}

}  // namespace
}  // namespace eca

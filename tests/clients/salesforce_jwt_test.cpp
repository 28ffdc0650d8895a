// The connection's JWT bearer login (clients/salesforce_jwt.h and the token part of
// SalesforceClient) against the fake org, which verifies each assertion for real.
#include "clients/salesforce_jwt.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <vector>

#include "clients/curl_transport.h"
#include "clients/salesforce_client.h"
#include "tests/sandbox/fake_salesforce.h"

namespace eca {
namespace {

using sandbox::FakeSalesforce;
using sandbox::JwtSettings;

constexpr const char* kUser = "integration@acme.example";

const Secret& test_key() {
  static const Secret key = generate_rsa_private_key_pem(2048);
  return key;
}
const Secret& other_key() {
  static const Secret key = generate_rsa_private_key_pem(2048, /*pkcs1=*/true);
  return key;
}

class SalesforceJwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sf_ = std::make_unique<FakeSalesforce>();
    sf_->start();
    conn_ = sf_->add_app("Connection_App");
    target_ = sf_->add_app("Billing");
    JwtSettings jwt;
    jwt.certificate_pem = self_signed_certificate_pem(test_key(), "acme");
    jwt.pre_authorized_users = {kUser};
    sf_->set_jwt(conn_.id, jwt);
  }
  void TearDown() override { sf_->stop(); }

  std::unique_ptr<SalesforceClient> client(const std::string& audience = "",
                                           std::chrono::seconds skew = {},
                                           const std::string& user = kUser) {
    SalesforceEndpoint ep;
    ep.name = "acme";
    ep.my_domain_url = sf_->base_url();
    ep.client_id = conn_.primary().key;
    ep.auth = SfAuthMethod::JwtBearer;
    ep.username = user;
    ep.audience = audience;
    ep.private_key_pem = test_key().clone();
    auto c = std::make_unique<SalesforceClient>(
        transport_, std::move(ep), [skew] { return std::chrono::system_clock::now() + skew; });
    c->on_notice([this](const std::string& note) { notices_.push_back(note); });
    return c;
  }
  std::string refusal(SalesforceClient& c) {
    auto st = c.authenticate();
    EXPECT_FALSE(st.ok());
    if (st) return {};
    EXPECT_EQ(st.error().kind, ErrorKind::Auth);
    EXPECT_EQ(st.error().message.find("PRIVATE KEY"), std::string::npos);
    return st.error().message;
  }

  std::unique_ptr<FakeSalesforce> sf_;
  sandbox::AppInfo conn_, target_;
  CurlTransport transport_;
  std::vector<std::string> notices_;
};

TEST(SalesforceJwt, AssertionCarriesOnlyAlgAndTheFourClaims) {
  auto signer = RsaSigner::from_pem(test_key(), "key");
  ASSERT_TRUE(signer.ok());
  auto a = make_jwt_assertion(
      *signer, {"3MVGkey", "u@example.com", "https://login.salesforce.com", 1700000000});
  ASSERT_TRUE(a.ok());
  auto d = decode_jwt(a->view());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->alg, "RS256");
  EXPECT_FALSE(d->header_has_extra);
  EXPECT_EQ(d->claims.iss, "3MVGkey");
  EXPECT_EQ(d->claims.sub, "u@example.com");
  EXPECT_EQ(d->claims.aud, "https://login.salesforce.com");
  EXPECT_EQ(d->claims.exp, 1700000000);
  EXPECT_EQ(a->view().find('='), std::string_view::npos) << "base64url without padding";
  EXPECT_TRUE(rs256_verify(signer->public_key_pem(), d->signing_input, d->signature));
}

TEST(SalesforceJwt, DefaultAudienceFollowsTheHost) {
  EXPECT_EQ(default_jwt_audience("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com");
  EXPECT_EQ(default_jwt_audience("https://ACME--UAT.SANDBOX.MY.SALESFORCE.COM/"),
            "https://test.salesforce.com");
  EXPECT_EQ(default_jwt_audience("https://acme.my.salesforce.com"), "https://login.salesforce.com");
  EXPECT_EQ(default_jwt_audience("https://sandbox.my.salesforce.com.evil.example"),
            "https://login.salesforce.com");
}

TEST_F(SalesforceJwtTest, OneSignedAssertionPerTokenNotPerCall) {
  auto c = client();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->consumers(target_.id).ok());
  EXPECT_EQ(sf_->jwt_logins(), 1);
  sf_->expire_all_tokens();  // the 401 makes the client sign a new assertion
  auto again = c->consumers(target_.id);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(sf_->jwt_logins(), 2);
  EXPECT_EQ(sf_->request_count("sf.token"), 2);
  EXPECT_NE(c->auth_summary().find("JWT bearer as integration@acme.example"), std::string::npos);
}

TEST_F(SalesforceJwtTest, RefusedDefaultAudienceIsRetriedOnceWithMyDomainAndRemembered) {
  JwtSettings jwt;
  jwt.certificate_pem = self_signed_certificate_pem(test_key(), "acme");
  jwt.pre_authorized_users = {kUser};
  jwt.audiences = {sf_->base_url()};  // a "Spring '26" org: My Domain only
  sf_->set_jwt(conn_.id, jwt);
  auto c = client();
  auto st = c->authenticate();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(sf_->request_count("sf.token"), 2);
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_NE(notices_[0].find("https://login.salesforce.com was refused"), std::string::npos);
  EXPECT_NE(c->auth_summary().find(sf_->base_url()), std::string::npos);
  sf_->expire_all_tokens();
  ASSERT_TRUE(c->consumers(target_.id).ok());
  EXPECT_EQ(sf_->request_count("sf.token"), 3) << "the audience that worked is used directly";
}

TEST_F(SalesforceJwtTest, ConfiguredAudienceIsNotSecondGuessed) {
  auto c = client("https://acme.example/community");
  const std::string why = refusal(*c);
  EXPECT_NE(why.find("audience is invalid"), std::string::npos) << why;
  EXPECT_NE(why.find("set [connections.acme] audience"), std::string::npos) << why;
  EXPECT_EQ(sf_->request_count("sf.token"), 1);
}

TEST_F(SalesforceJwtTest, EachRefusalSaysWhatToFix) {
  struct Case {
    const char* name;
    std::function<void()> arrange;
    std::chrono::seconds skew;
    std::string user;
    const char* expected;
  } cases[] = {
      {"certificate mismatch",
       [&] {
         JwtSettings jwt;
         jwt.certificate_pem = self_signed_certificate_pem(other_key(), "old");
         jwt.pre_authorized_users = {kUser};
         sf_->set_jwt(conn_.id, jwt);
       },
       {},
       kUser,
       "does not match [connections.acme] private_key_file"},
      {"not pre-authorized", [] {}, {}, "someone@acme.example", "is not pre-authorized"},
      {"clock 10 minutes behind", [] {}, std::chrono::minutes(-10), kUser,
       "check this machine's clock"},
      {"jwt flow off",
       [&] { sf_->set_jwt(conn_.id, std::nullopt); },
       {},
       kUser,
       "Enable JWT Bearer Flow"},
  };
  for (auto& k : cases) {
    SCOPED_TRACE(k.name);
    TearDown();  // a fresh org for each case
    SetUp();
    k.arrange();
    auto c = client("", k.skew, k.user);
    const std::string why = refusal(*c);
    EXPECT_NE(why.find(k.expected), std::string::npos) << why;
    EXPECT_EQ(sf_->request_count("sf.consumers"), 0);
  }
}

TEST_F(SalesforceJwtTest, UnusableKeyFailsBeforeAnyRequest) {
  SalesforceEndpoint ep;
  ep.name = "acme";
  ep.my_domain_url = sf_->base_url();
  ep.client_id = conn_.primary().key;
  ep.auth = SfAuthMethod::JwtBearer;
  ep.username = kUser;
  ep.private_key_pem = Secret("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n");
  SalesforceClient c(transport_, std::move(ep));
  auto st = c.authenticate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("private_key_file"), std::string::npos);
  EXPECT_EQ(sf_->request_count("sf.token"), 0);
}

}  // namespace
}  // namespace eca

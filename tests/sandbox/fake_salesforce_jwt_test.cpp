// The fake org's JWT bearer flow checks the proof, not its presence: hand-made assertions,
// each wrong in one way, get the spec's error_description for that way.
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>

#include "clients/salesforce_jwt.h"
#include "crypto/rsa_signer.h"
#include "tests/sandbox/fake_salesforce.h"
#include "tests/sandbox/test_http.h"

namespace eca::sandbox {
namespace {

using testing::Reply;
using testing::TestHttp;

constexpr const char* kUser = "integration@acme.example";

const Secret& key() {
  static const Secret k = generate_rsa_private_key_pem(2048);
  return k;
}

std::string b64url(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

class FakeSalesforceJwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sf_ = std::make_unique<FakeSalesforce>();
    connection_ = sf_->add_app("Connection_App");
    sf_->start();
    JwtSettings jwt;
    jwt.certificate_pem = self_signed_certificate_pem(key(), "acme");
    jwt.pre_authorized_users = {kUser};
    sf_->set_jwt(connection_.id, jwt);
    http_ = std::make_unique<TestHttp>(sf_->base_url());
  }
  void TearDown() override { sf_->stop(); }

  JwtClaims good_claims() const {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(sf_->clock().now().time_since_epoch())
            .count();
    return {connection_.primary().key, kUser, "https://login.salesforce.com", now + 120};
  }
  Reply send(const std::string& assertion) {
    return http_->post_form(
        "/services/oauth2/token",
        {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion}});
  }
  Reply send(const JwtClaims& claims) {
    auto signer = RsaSigner::from_pem(key(), "key");
    auto a = make_jwt_assertion(*signer, claims);
    return send(std::string(a->view()));
  }
  static std::string description(const Reply& r) {
    return r.json()["error_description"].GetString();
  }

  std::unique_ptr<FakeSalesforce> sf_;
  std::unique_ptr<TestHttp> http_;
  AppInfo connection_;
};

TEST_F(FakeSalesforceJwtTest, AGoodAssertionGetsATokenThatWorksLikeAnyOther) {
  const Reply r = send(good_claims());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().HasMember("access_token"));
  EXPECT_FALSE(r.json().HasMember("refresh_token"));
  EXPECT_FALSE(r.json().HasMember("expires_in"));
  EXPECT_EQ(sf_->jwt_logins(), 1);
  EXPECT_EQ(sf_->live_token_count(), 1);
}

TEST_F(FakeSalesforceJwtTest, EachWrongPartGetsItsOwnAnswer) {
  JwtClaims c = good_claims();
  c.sub = "stranger@acme.example";
  EXPECT_EQ(description(send(c)), "user hasn't approved this consumer");
  c = good_claims();
  c.aud = "https://acme.my.salesforce.com";
  EXPECT_EQ(description(send(c)), "audience is invalid");
  c = good_claims();
  c.exp -= 600;
  EXPECT_EQ(description(send(c)), "expired authorization code");
  c = good_claims();
  c.iss = "3MVGunknown";
  const Reply unknown = send(c);
  EXPECT_EQ(unknown.json()["error"].GetString(), std::string("invalid_client_id"));
  EXPECT_EQ(sf_->jwt_logins(), 0);
}

TEST_F(FakeSalesforceJwtTest, SignatureIsCheckedAgainstTheAppsCertificate) {
  auto signer = RsaSigner::from_pem(key(), "key");
  auto a = make_jwt_assertion(*signer, good_claims());
  std::string tampered(a->view());
  // Same header and signature, claims for another user: the signature no longer covers it.
  const auto dot1 = tampered.find('.');
  const auto dot2 = tampered.find('.', dot1 + 1);
  JwtClaims other = good_claims();
  other.sub = "integration@acme.example.evil";
  auto b = make_jwt_assertion(*signer, other);
  const std::string forged =
      tampered.substr(0, dot1 + 1) +
      std::string(b->view().substr(dot1 + 1, b->view().find('.', dot1 + 1) - dot1 - 1)) +
      tampered.substr(dot2);
  EXPECT_EQ(description(send(forged)), "invalid assertion");
  // alg "none" with no signature at all.
  const std::string none =
      b64url(R"({"alg":"none"})") + "." + tampered.substr(dot1 + 1, dot2 - dot1 - 1) + ".";
  EXPECT_EQ(description(send(none)), "invalid assertion");
  // A certificate of another key on the app.
  JwtSettings jwt;
  jwt.certificate_pem = self_signed_certificate_pem(generate_rsa_private_key_pem(2048), "new");
  jwt.pre_authorized_users = {kUser};
  sf_->set_jwt(connection_.id, jwt);
  EXPECT_EQ(description(send(good_claims())), "invalid assertion");
  sf_->set_jwt(connection_.id, std::nullopt);
  EXPECT_EQ(description(send(good_claims())), "invalid assertion") << "JWT flow not enabled";
  EXPECT_EQ(sf_->jwt_logins(), 0);
}

TEST_F(FakeSalesforceJwtTest, ExpiryFollowsTheFakeClock) {
  const JwtClaims c = good_claims();
  sf_->clock().advance(std::chrono::minutes(10));  // the agent's clock 10 minutes behind
  EXPECT_EQ(description(send(c)), "expired authorization code");
}

}  // namespace
}  // namespace eca::sandbox

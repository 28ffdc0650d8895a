// CloudIdentity and InfisicalClient against the fake clouds and the fake Infisical,
// which checks each proof (SigV4 recomputed, tokens verified against the fake issuers).
#include "clients/cloud_identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "clients/curl_transport.h"
#include "clients/infisical_client.h"
#include "tests/sandbox/fake_cloud.h"
#include "tests/sandbox/fake_infisical.h"

namespace eca {
namespace {

using ::testing::HasSubstr;
using Env = std::map<std::string, std::string>;

class CloudIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = sandbox::FakeCloudKeys::random();
    inf_ = std::make_unique<sandbox::FakeInfisical>(sandbox::FakeInfisicalOptions{}, clock_);
    inf_->add_identity("identity-1", "unused-secret");
    inf_->add_project("proj-1", "demo", {"prod"});
    inf_->add_member("proj-1", "identity-1");
    inf_->set_cloud_keys(keys_);
    for (const char* m :
         {"aws-auth", "gcp-auth", "azure-auth", "kubernetes-auth", "oidc-auth", "jwt-auth"}) {
      inf_->add_cloud_auth("identity-1", m);
    }
    inf_->start();
    meta_ = std::make_unique<sandbox::FakeMetadata>(keys_, sandbox::FakeMetadataOptions{}, clock_);
    meta_->start();
    dir_ = std::filesystem::temp_directory_path() /
           ("eca-cloudid-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    meta_->stop();
    inf_->stop();
    std::filesystem::remove_all(dir_);
  }

  CloudIdentitySettings settings(InfisicalAuthMethod m) {
    CloudIdentitySettings s;
    s.method = m;
    s.identity_id = inf_->identity_id("identity-1");
    s.metadata_url = meta_->base_url();
    return s;
  }
  std::unique_ptr<CloudIdentity> identity(CloudIdentitySettings s, Env env = {},
                                          std::chrono::seconds clock_offset = {}) {
    auto c = clock_;
    return std::make_unique<CloudIdentity>(
        metadata_transport_, std::move(s),
        [env](const std::string& n) -> std::optional<std::string> {
          auto it = env.find(n);
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        [c, clock_offset] { return c->now() + clock_offset; });
  }
  std::unique_ptr<InfisicalClient> client(CloudIdentity& id) {
    InfisicalEndpoint ep;
    ep.url = inf_->base_url();
    ep.project_id = "proj-1";
    ep.environment = "prod";
    ep.login_request = [&id] { return id.login_request(); };
    auto c = clock_;
    return std::make_unique<InfisicalClient>(transport_, std::move(ep), [c] { return c->now(); });
  }
  std::string token_file(const std::string& token) {
    auto p = dir_ / "token";
    std::ofstream(p) << token << "\n";
    return p.string();
  }
  Status login_with(CloudIdentitySettings s, Env env = {}) {
    auto id = identity(std::move(s), std::move(env));
    return client(*id)->login();
  }

  std::shared_ptr<sandbox::FakeClock> clock_ = std::make_shared<sandbox::FakeClock>();
  std::shared_ptr<sandbox::FakeCloudKeys> keys_;
  std::unique_ptr<sandbox::FakeInfisical> inf_;
  std::unique_ptr<sandbox::FakeMetadata> meta_;
  std::filesystem::path dir_;
  CurlTransport transport_;
  CurlTransport metadata_transport_{[] {
    CurlOptions o;
    o.metadata_service = true;
    o.connect_timeout_s = 2;
    o.total_timeout_s = 5;
    return o;
  }()};
};

TEST_F(CloudIdentityTest, AwsInstanceRoleThroughImdsV2SignsAnAcceptedProof) {
  auto id = identity(settings(InfisicalAuthMethod::AwsIam));
  auto c = client(*id);
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(id->aws_source(), "instance role " + keys_->aws_role);
  EXPECT_EQ(meta_->request_count("meta.aws_token"), 1);
  EXPECT_EQ(meta_->request_count("meta.aws_region"), 1) << "region from the identity document";
}

TEST_F(CloudIdentityTest, RenewalAndReloginWorkAsWithUniversalAuth) {
  inf_->add_identity("identity-2", "unused", std::chrono::hours(1), std::chrono::hours(3));
  inf_->add_member("proj-1", "identity-2");
  inf_->add_cloud_auth("identity-2", "aws-auth");
  auto s = settings(InfisicalAuthMethod::AwsIam);
  s.identity_id = inf_->identity_id("identity-2");
  auto id = identity(s);
  auto c = client(*id);
  ASSERT_TRUE(c->list("/").ok());
  clock_->advance(std::chrono::minutes(50));  // past 2/3 of the TTL: renewed
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.renew"), 1);
  EXPECT_EQ(inf_->request_count("inf.login"), 1);
  clock_->advance(std::chrono::minutes(150));  // renewing cannot reach past max TTL: log in
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.login"), 2);
  EXPECT_EQ(meta_->request_count("meta.aws_creds"), 2) << "a fresh proof for the new login";
}

TEST_F(CloudIdentityTest, AwsCredentialsFromTheEnvironmentNeedNoMetadata) {
  ASSERT_TRUE(login_with(settings(InfisicalAuthMethod::AwsIam),
                         {{"AWS_ACCESS_KEY_ID", keys_->aws_static_key_id},
                          {"AWS_SECRET_ACCESS_KEY", keys_->aws_static_secret},
                          {"AWS_REGION", keys_->aws_region}})
                  .ok());
  EXPECT_EQ(meta_->request_count("*"), 0);
}

TEST_F(CloudIdentityTest, AwsWrongRegionIsRefusedAndSaysWhatToCheck) {
  auto s = settings(InfisicalAuthMethod::AwsIam);
  s.region = "us-east-1";
  auto st = login_with(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::Auth);
  EXPECT_THAT(st.error().message, HasSubstr("region"));
  EXPECT_THAT(st.error().message, HasSubstr("AWS Auth"));
}

TEST_F(CloudIdentityTest, AwsSignatureFromAClockTwentyMinutesBehindIsRefused) {
  auto id = identity(settings(InfisicalAuthMethod::AwsIam), {}, std::chrono::minutes(-20));
  auto st = client(*id)->login();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("Signature expired"));
}

TEST_F(CloudIdentityTest, AwsChangedSignedHeaderIsRefused) {
  inf_->set_tamper_aws_headers(true);
  auto st = login_with(settings(InfisicalAuthMethod::AwsIam));
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("SignatureDoesNotMatch"));
}

TEST_F(CloudIdentityTest, ImdsV2TokenRefusedIsAClearErrorAndNothingIsSent) {
  meta_->set_refuse_imds_token(true);
  auto st = login_with(settings(InfisicalAuthMethod::AwsIam));
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("refused a session token (HTTP 403)"));
  EXPECT_THAT(st.error().message, HasSubstr("hop-limit"));
  EXPECT_EQ(inf_->request_count("inf.login"), 0);
}

TEST_F(CloudIdentityTest, UnreachableMetadataNamesTheAddressAndTheSetting) {
  auto s = settings(InfisicalAuthMethod::AwsIam);
  s.metadata_url = "http://127.0.0.1:1";
  auto st = login_with(s);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("http://127.0.0.1:1/latest/api/token is unreachable"));
  EXPECT_THAT(st.error().message, HasSubstr("metadata_url"));
  EXPECT_EQ(inf_->request_count("inf.login"), 0);
}

TEST_F(CloudIdentityTest, GcpIdentityTokenForTheIdentityIdAudience) {
  // The fake Infisical refuses a token whose audience is not the identity's id.
  ASSERT_TRUE(login_with(settings(InfisicalAuthMethod::GcpIdToken)).ok());
  EXPECT_EQ(meta_->request_count("meta.gcp_token"), 1);
}

TEST_F(CloudIdentityTest, AzureManagedIdentityToken) {
  ASSERT_TRUE(login_with(settings(InfisicalAuthMethod::Azure)).ok());
  EXPECT_EQ(meta_->request_count("meta.azure_token"), 1);
}

TEST_F(CloudIdentityTest, AzureTokenForAnotherResourceIsRefused) {
  auto s = settings(InfisicalAuthMethod::Azure);
  s.resource = "https://vault.azure.net";
  auto st = login_with(s);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("audience"));
}

TEST_F(CloudIdentityTest, KubernetesTokenFileIsReadAtEachLogin) {
  auto s = settings(InfisicalAuthMethod::Kubernetes);
  s.token_file =
      token_file(sandbox::kubernetes_token(*keys_, clock_->now() + std::chrono::hours(1)));
  auto id = identity(s);
  auto c = client(*id);
  ASSERT_TRUE(c->list("/").ok());
  // kubelet rotates the projected token; the next login must send the new one.
  const std::string next = sandbox::kubernetes_token(*keys_, clock_->now() + std::chrono::hours(2));
  token_file(next);
  inf_->expire_all_tokens();
  ASSERT_TRUE(c->list("/").ok());
  EXPECT_EQ(inf_->request_count("inf.login"), 2);
  auto again = id->login_request();
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(std::string(again->body.view()), HasSubstr(next));
}

TEST_F(CloudIdentityTest, ExpiredKubernetesTokenIsRefusedBeforeSending) {
  auto s = settings(InfisicalAuthMethod::Kubernetes);
  s.token_file =
      token_file(sandbox::kubernetes_token(*keys_, clock_->now() - std::chrono::minutes(10)));
  auto st = login_with(s);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("expired at"));
  EXPECT_THAT(st.error().message, HasSubstr(s.token_file));
  EXPECT_EQ(inf_->request_count("inf.login"), 0);
}

TEST_F(CloudIdentityTest, KubernetesTokenFromAnotherIssuerIsRefused) {
  auto other = sandbox::FakeCloudKeys::random();
  auto s = settings(InfisicalAuthMethod::Kubernetes);
  s.token_file =
      token_file(sandbox::kubernetes_token(*other, clock_->now() + std::chrono::hours(1)));
  auto st = login_with(s);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("invalid signature"));
  EXPECT_THAT(st.error().message, HasSubstr("Kubernetes Auth"));
}

TEST_F(CloudIdentityTest, OidcAndJwtTokenFiles) {
  for (auto m : {InfisicalAuthMethod::Oidc, InfisicalAuthMethod::Jwt}) {
    auto s = settings(m);
    s.token_file = token_file(sandbox::oidc_token(*keys_, clock_->now() + std::chrono::minutes(5)));
    EXPECT_TRUE(login_with(s).ok()) << auth_method_name(m);
  }
}

TEST_F(CloudIdentityTest, MissingTokenFileNamesIt) {
  auto s = settings(InfisicalAuthMethod::Oidc);
  s.token_file = (dir_ / "absent").string();
  auto st = login_with(s);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("cannot open token file " + s.token_file));
}

// ---- parsers

TEST(CloudIdentityParsers, JwtExpiry) {
  const std::string with_exp = sandbox::mint_hs256("k", R"({"exp":1767225600,"sub":"x"})");
  auto e = jwt_expiry(with_exp);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value_or(0), 1767225600);
  auto none = jwt_expiry(sandbox::mint_hs256("k", R"({"sub":"x"})"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(jwt_expiry("not-a-jwt").ok());
  EXPECT_FALSE(jwt_expiry("a.b.c.d").ok());
  EXPECT_FALSE(jwt_expiry("a.%%%.c").ok());
  EXPECT_FALSE(jwt_expiry(sandbox::mint_hs256("k", R"({"exp":"soon"})")).ok());
}

TEST(CloudIdentityParsers, ImdsCredentialsNeedSuccessAndBothKeys) {
  Secret ok(R"({"Code":"Success","AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t"})");
  auto c = parse_imds_credentials(ok);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIA1");
  EXPECT_EQ(c->session_token.view(), "t");
  Secret failed(R"({"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"","SecretAccessKey":""})");
  auto f = parse_imds_credentials(failed);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("AssumeRoleUnauthorizedAccess"));
  Secret partial(R"({"AccessKeyId":"ASIA1"})");
  EXPECT_FALSE(parse_imds_credentials(partial).ok());
}

TEST(CloudIdentityParsers, IdentityDocumentRegionMustLookLikeOne) {
  Secret ok(R"({"region":"eu-west-1"})");
  EXPECT_EQ(parse_identity_document_region(ok).value(), "eu-west-1");
  Secret bad(R"({"region":"x.evil.com/"})");
  EXPECT_FALSE(parse_identity_document_region(bad).ok());
}

TEST(CloudIdentityParsers, MethodNamesRoundTrip) {
  for (const char* n :
       {"universal-auth", "aws-iam", "gcp-id-token", "azure", "kubernetes", "oidc", "jwt"}) {
    auto m = parse_auth_method(n);
    ASSERT_TRUE(m.has_value()) << n;
    EXPECT_STREQ(auth_method_name(*m), n);
  }
  EXPECT_FALSE(parse_auth_method("gcp-iam").has_value());
}

}  // namespace
}  // namespace eca

namespace eca {
namespace {

// Plain HTTP leaves the machine only for the metadata transport, and only to a metadata
// address: an ordinary transport still refuses it, and the metadata one refuses others.
TEST(MetadataTransport, PlainHttpOnlyToMetadataAddresses) {
  EXPECT_TRUE(is_metadata_url("http://169.254.169.254/latest/api/token"));
  EXPECT_TRUE(is_metadata_url("http://metadata.google.internal/computeMetadata/v1/"));
  EXPECT_TRUE(is_metadata_url("http://[fd00:ec2::254]/latest/api/token"));
  EXPECT_FALSE(is_metadata_url("http://169.254.169.254.evil.example/"));
  EXPECT_FALSE(is_metadata_url("http://example.com/"));
  CurlTransport ordinary;
  HttpRequest to_imds;
  to_imds.url = "http://169.254.169.254/latest/api/token";
  to_imds.endpoint = "meta.aws_token";
  auto refused = ordinary.send(to_imds);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("without TLS"));
  CurlOptions o;
  o.metadata_service = true;
  CurlTransport metadata(o);
  HttpRequest elsewhere;
  elsewhere.url = "http://example.com/";
  elsewhere.endpoint = "meta.other";
  auto r = metadata.send(elsewhere);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("without TLS"));
}

}  // namespace
}  // namespace eca

// The real binary logging in to the fake Infisical by cloud identity, with no Infisical
// secret anywhere on the "VM": a full rotation per method, and the failures an operator
// meets first (metadata unreachable or refusing, a changed signed header, an expired
// service account token), each a clear error with nothing changed at Salesforce.
#include <fstream>
#include <functional>

#include "crypto/rsa_signer.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/sandbox/fake_cloud.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CloudIdentityE2e : public E2eFixture {
 protected:
  void SetUp() override {
    E2eFixture::SetUp();
    // The canary also watches the fake clouds' secrets.
    known_secrets_.insert(sb_->cloud_keys().aws_secret_access_key);
    known_secrets_.insert(sb_->cloud_keys().aws_session_token);
    known_secrets_.insert(sb_->cloud_keys().aws_static_secret);
  }
  // Replaces [infisical.auth] with `auth` and deletes the Infisical secret file.
  void use_auth(const std::string& auth) {
    std::string t = slurp_config();
    const auto from = t.find("[infisical.auth]\n");
    const auto to = t.find("[encryption]");
    t.replace(from, to - from, "[infisical.auth]\n" + auth + "\n");
    std::ofstream(config_) << t;
    std::filesystem::remove(dir_ / "inf-secret");
  }
  std::string identity() const {
    return "identity_id = \"" + sb_->infisical_identity_id() + "\"\n";
  }
  std::string metadata() const { return "metadata_url = \"" + sb_->metadata().base_url() + "\"\n"; }
  std::string token_file(const std::string& token) {
    std::ofstream(dir_ / "token.jwt") << token << "\n";
    return "token_file = \"" + (dir_ / "token.jwt").string() + "\"\n";
  }
  // Runs with no AWS credentials or region from the test's own environment.
  ProcessResult run_clean(const std::vector<std::string>& args,
                          std::map<std::string, std::string> env = {}) {
    for (const char* n :
         {"!AWS_ACCESS_KEY_ID", "!AWS_SECRET_ACCESS_KEY", "!AWS_SESSION_TOKEN", "!AWS_REGION",
          "!AWS_DEFAULT_REGION", "!AWS_EC2_METADATA_SERVICE_ENDPOINT", "!GCE_METADATA_HOST",
          "!CREDENTIALS_DIRECTORY"}) {
      env.emplace(n, "");
    }
    auto r = run_agent(with_config(args), env);
    remember(r);
    return r;
  }
  void expect_full_rotation(const ProcessResult& r) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (int n = 1; n <= 3; ++n) {
      auto pub = published(n);
      ASSERT_TRUE(pub.has_value()) << "app-" << n;
      EXPECT_TRUE(sb_->salesforce().authenticates(pub->key, pub->secret));
    }
  }
  void expect_nothing_changed(const std::vector<sandbox::Credential>& before) {
    for (std::size_t i = 0; i < before.size(); ++i) {
      const auto& app = sb_->target_apps()[i];
      EXPECT_EQ(sb_->salesforce().primary(app.id)->key, before[i].key);
      EXPECT_FALSE(sb_->salesforce().staged(app.id).has_value());
    }
    EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 0);
  }
  std::vector<sandbox::Credential> primaries() const {
    std::vector<sandbox::Credential> out;
    for (const auto& app : sb_->target_apps()) out.push_back(app.primary());
    return out;
  }
};

TEST_F(CloudIdentityE2e, AwsIamInstanceRoleRotatesWithNoInfisicalSecret) {
  use_auth("method = \"aws-iam\"\n" + identity() + metadata());
  const auto v = run_clean({"validate"});
  EXPECT_THAT(v.out, HasSubstr("login: infisical by aws-iam"));
  EXPECT_THAT(v.out, HasSubstr("static secrets on this VM: connection sandbox"));
  expect_full_rotation(run_clean({"rotate", "--all"}));
  EXPECT_GE(sb_->metadata().request_count("meta.aws_token"), 1);
  const auto online = run_clean({"validate", "--online", "--no-progress"});
  EXPECT_EQ(online.exit_code, 0) << online.err;
  EXPECT_THAT(online.out,
              HasSubstr("logged in by aws-iam as identity " + sb_->infisical_identity_id()));
}

TEST_F(CloudIdentityE2e, AwsIamWithEnvironmentCredentials) {
  use_auth("method = \"aws-iam\"\n" + identity() + "region = \"" + sb_->cloud_keys().aws_region +
           "\"\n");
  expect_full_rotation(run_clean({"rotate", "--all"},
                                 {{"AWS_ACCESS_KEY_ID", sb_->cloud_keys().aws_static_key_id},
                                  {"AWS_SECRET_ACCESS_KEY", sb_->cloud_keys().aws_static_secret}}));
  EXPECT_EQ(sb_->metadata().request_count("*"), 0);
}

TEST_F(CloudIdentityE2e, GcpIdTokenRotates) {
  use_auth("method = \"gcp-id-token\"\n" + identity() + metadata());
  expect_full_rotation(run_clean({"rotate", "--all"}));
}

TEST_F(CloudIdentityE2e, AzureManagedIdentityRotates) {
  use_auth("method = \"azure\"\n" + identity() + metadata());
  expect_full_rotation(run_clean({"rotate", "--all"}));
}

TEST_F(CloudIdentityE2e, KubernetesServiceAccountTokenRotates) {
  use_auth("method = \"kubernetes\"\n" + identity() +
           token_file(sandbox::kubernetes_token(sb_->cloud_keys(),
                                                sb_->clock().now() + std::chrono::hours(1))));
  expect_full_rotation(run_clean({"rotate", "--all"}));
}

TEST_F(CloudIdentityE2e, OidcAndJwtTokenFilesRotate) {
  for (const char* m : {"oidc", "jwt"}) {
    use_auth(std::string("method = \"") + m + "\"\n" + identity() +
             token_file(sandbox::oidc_token(sb_->cloud_keys(),
                                            sb_->clock().now() + std::chrono::minutes(10))));
    auto r = run_clean({"rotate", "--all"});
    ASSERT_EQ(r.exit_code, 0) << m << ": " << r.err;
  }
  EXPECT_TRUE(published(1).has_value());
}

// No shared secret anywhere: the connection logs in by JWT bearer, Infisical by each cloud
// identity in turn, and the config names no secret file at all.
TEST_F(CloudIdentityE2e, NoStaticSecretOnTheVmWithJwtBearerAndEachCloudIdentity) {
  static const Secret key = generate_rsa_private_key_pem(2048);
  sb_->enable_connection_jwt(key);
  { std::ofstream(dir_ / "sf-jwt.key") << key.view(); }
  std::filesystem::permissions(dir_ / "sf-jwt.key", std::filesystem::perms::owner_read);
  std::filesystem::remove(dir_ / "sf-secret");
  const std::string jwt_connection =
      "auth = \"jwt_bearer\"\nusername = \"" + std::string(sandbox::Sandbox::kJwtUsername) +
      "\"\nprivate_key_file = \"" + (dir_ / "sf-jwt.key").string() + "\"\n";
  // Settings per method; the token files are written when their turn comes (one file).
  const auto until = sb_->clock().now() + std::chrono::hours(1);
  const std::vector<std::pair<std::string, std::function<std::string()>>> methods = {
      {"aws-iam", [&] { return identity() + metadata(); }},
      {"gcp-id-token", [&] { return identity() + metadata(); }},
      {"azure", [&] { return identity() + metadata(); }},
      {"kubernetes",
       [&] {
         return identity() + token_file(sandbox::kubernetes_token(sb_->cloud_keys(), until));
       }},
      {"oidc",
       [&] { return identity() + token_file(sandbox::oidc_token(sb_->cloud_keys(), until)); }},
  };
  for (const auto& [method, settings] : methods) {
    SCOPED_TRACE(method);
    write_config();
    use_auth("method = \"" + method + "\"\n" + settings());
    std::string t = slurp_config();
    const std::string secret_line =
        "client_secret_file = \"" + (dir_ / "sf-secret").string() + "\"\n";
    t.replace(t.find(secret_line), secret_line.size(), jwt_connection);
    std::ofstream(config_, std::ios::trunc) << t;
    EXPECT_THAT(t, Not(HasSubstr("secret_file")));
    const auto v = run_clean({"validate"});
    ASSERT_EQ(v.exit_code, 0) << v.err;
    EXPECT_THAT(v.out, HasSubstr("login: infisical by " + method));
    EXPECT_THAT(v.out, HasSubstr("login: connection sandbox by jwt-bearer"));
    EXPECT_THAT(v.out, HasSubstr("\nno static secret on this VM\n"));
    const long promotes = sb_->salesforce().request_count("sf.promote");
    expect_full_rotation(run_clean({"rotate", "--all"}));
    EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), promotes + 3);
  }
}

// ---- negative table: a clear error, and nothing changed at Salesforce

TEST_F(CloudIdentityE2e, ImdsUnreachable) {
  const auto before = primaries();
  use_auth("method = \"aws-iam\"\n" + identity() + "metadata_url = \"http://127.0.0.1:1\"\n");
  auto r = run_clean({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(
      r.err,
      HasSubstr(
          "AWS instance metadata (IMDSv2) at http://127.0.0.1:1/latest/api/token is unreachable"));
  EXPECT_THAT(r.err, HasSubstr("metadata_url"));
  expect_nothing_changed(before);
}

TEST_F(CloudIdentityE2e, ImdsV2TokenRefused) {
  const auto before = primaries();
  sb_->metadata().set_refuse_imds_token(true);
  use_auth("method = \"aws-iam\"\n" + identity() + metadata());
  auto r = run_clean({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("refused a session token (HTTP 403)"));
  expect_nothing_changed(before);
  EXPECT_EQ(sb_->infisical().request_count("inf.login"), 0);
}

TEST_F(CloudIdentityE2e, SigV4OverAChangedHeader) {
  const auto before = primaries();
  sb_->infisical().set_tamper_aws_headers(true);
  use_auth("method = \"aws-iam\"\n" + identity() + metadata());
  auto r = run_clean({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(r.err, HasSubstr("has AWS Auth"));
  expect_nothing_changed(before);
}

TEST_F(CloudIdentityE2e, ExpiredKubernetesToken) {
  const auto before = primaries();
  use_auth("method = \"kubernetes\"\n" + identity() +
           token_file(sandbox::kubernetes_token(sb_->cloud_keys(),
                                                sb_->clock().now() - std::chrono::minutes(30))));
  auto r = run_clean({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("Kubernetes service account token in " +
                               (dir_ / "token.jwt").string() + " expired at"));
  expect_nothing_changed(before);
  EXPECT_EQ(sb_->infisical().request_count("inf.login"), 0);
}

}  // namespace
}  // namespace eca::e2e

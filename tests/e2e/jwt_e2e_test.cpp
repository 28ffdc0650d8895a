// A connection logging in by JWT bearer (no consumer secret anywhere in the config), the
// real binary against the sandbox's fake org, which verifies every assertion.
#include <filesystem>
#include <fstream>

#include "crypto/rsa_signer.h"
#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const Secret& agent_key() {
  static const Secret key = generate_rsa_private_key_pem(2048);
  return key;
}

class JwtE2e : public E2eFixture {
 protected:
  void SetUp() override {
    E2eFixture::SetUp();
    std::filesystem::remove(dir_ / "sf-secret");
    { std::ofstream(dir_ / "sf-jwt.key") << agent_key().view(); }
    std::filesystem::permissions(dir_ / "sf-jwt.key", std::filesystem::perms::owner_read);
    sb_->enable_connection_jwt(agent_key());
    use_jwt();
  }

  // Rewrites the connection section for JWT bearer; `extra` adds lines to it.
  void use_jwt(const std::string& username = sandbox::Sandbox::kJwtUsername,
               const std::string& extra = "") {
    write_config();
    std::string text = slurp_config();
    const std::string secret_line =
        "client_secret_file = \"" + (dir_ / "sf-secret").string() + "\"\n";
    const auto at = text.find(secret_line);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, secret_line.size(),
                 "auth = \"jwt_bearer\"\nusername = \"" + username + "\"\nprivate_key_file = \"" +
                     (dir_ / "sf-jwt.key").string() + "\"\n" + extra);
    std::ofstream(config_, std::ios::trunc) << text;
  }

  void expect_nothing_changed_at_salesforce() {
    auto& sf = sb_->salesforce();
    EXPECT_EQ(sf.request_count("sf.stage"), 0);
    EXPECT_EQ(sf.request_count("sf.promote"), 0);
    EXPECT_EQ(sf.request_count("sf.revoke"), 0);
    for (const auto& app : sb_->target_apps()) {
      EXPECT_FALSE(sf.staged(app.id).has_value());
      EXPECT_EQ(sf.primary(app.id)->key, app.primary().key);
    }
  }
};

TEST_F(JwtE2e, FullRotationWithNoConnectionSecretInTheConfig) {
  EXPECT_THAT(slurp_config(), Not(HasSubstr("sf-secret")));
  auto r = run({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int n = 1; n <= 3; ++n) {
    const auto& app = sb_->target_apps()[static_cast<std::size_t>(n - 1)];
    auto pub = published(n);
    ASSERT_TRUE(pub.has_value()) << "app-" << n;
    EXPECT_NE(pub->key, app.primary().key);
    EXPECT_TRUE(sb_->salesforce().authenticates(pub->key, pub->secret));
  }
  EXPECT_EQ(sb_->salesforce().jwt_logins(), 1) << "one signed assertion for the whole run";
}

TEST_F(JwtE2e, ValidateAndStatusSayHowTheConnectionLogsIn) {
  auto v = run({"validate", "--online", "--no-progress"});
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("login: connection sandbox by jwt-bearer (as "
                               "integration@sandbox.example, audience "));
  // Infisical still logs in with a client secret here: the only static secret left.
  EXPECT_THAT(v.out, HasSubstr("static secrets on this VM: infisical\n"));
  EXPECT_THAT(v.out, HasSubstr("by JWT bearer as integration@sandbox.example"));
  EXPECT_THAT(v.out, HasSubstr("rotation app-1"));
  auto s = run({"status"});
  EXPECT_THAT(s.out, HasSubstr("login: connection sandbox by jwt-bearer"));
  auto j = run({"status", "--json"});
  EXPECT_THAT(j.out, HasSubstr("\"connection_auth\":\"jwt_bearer\""));
}

TEST_F(JwtE2e, MyDomainIsTriedOnceWhenTheDefaultAudienceIsRefused) {
  sandbox::JwtSettings jwt;
  jwt.certificate_pem = self_signed_certificate_pem(agent_key(), "agent");
  jwt.pre_authorized_users = {sandbox::Sandbox::kJwtUsername};
  jwt.audiences = {sb_->salesforce().base_url()};
  sb_->salesforce().set_jwt(sb_->connection_app().id, jwt);
  auto r = run({"rotate", "app-1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("JWT audience https://login.salesforce.com was refused"));
  EXPECT_THAT(r.err, HasSubstr("the My Domain URL " + sb_->salesforce().base_url() + " worked"));
  EXPECT_TRUE(published(1).has_value());
}

// Each refused login: exit 1, a line saying what to fix, and Salesforce untouched.
TEST_F(JwtE2e, RefusedLoginsSayWhatToFixAndChangeNothing) {
  struct Case {
    const char* name;
    std::function<void()> arrange;
    const char* expected;
  } cases[] = {
      {"wrong certificate",
       [&] {
         static const Secret other = generate_rsa_private_key_pem(2048);
         sb_->enable_connection_jwt(other);
       },
       "does not match [connections.sandbox] private_key_file"},
      {"user not pre-authorized", [&] { use_jwt("someone.else@sandbox.example"); },
       "user someone.else@sandbox.example is not pre-authorized"},
      {"wrong audience",
       [&] { use_jwt(sandbox::Sandbox::kJwtUsername, "audience = \"https://wrong.example\"\n"); },
       "set [connections.sandbox] audience"},
      {"clock 10 minutes behind", [&] { sb_->clock().advance(std::chrono::minutes(10)); },
       "check this machine's clock"},
  };
  for (auto& k : cases) {
    SCOPED_TRACE(k.name);
    sb_->enable_connection_jwt(agent_key());
    use_jwt();
    sb_->salesforce().clear_log();
    k.arrange();
    auto r = run({"rotate", "--all"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(k.expected));
    expect_nothing_changed_at_salesforce();
    sb_->clock().set_offset(std::chrono::milliseconds(0));
  }
}

}  // namespace
}  // namespace eca::e2e

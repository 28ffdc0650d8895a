// The real binary against the sandbox served over HTTPS with the test CA: per-service
// trust from the config (ca_file, pinned_public_key, insecure_skip_verify) reaches
// the requests each service gets, and nothing else.
#include <fstream>

#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TlsE2e : public E2eFixture {
 protected:
  sandbox::SandboxOptions sandbox_options() const override {
    sandbox::SandboxOptions o;
    o.https = true;
    return o;
  }
  // A conf.d drop-in: adds keys to the sections write_config() wrote.
  void drop_in(const std::string& text) {
    std::filesystem::create_directories(dir_ / "conf.d");
    std::ofstream(dir_ / "conf.d" / "50-tls.toml") << text;
  }
  std::string pin() const {
    std::ifstream in(sb_->tls_dir() + "/server.pin");
    std::string p;
    std::getline(in, p);
    return p;
  }
  static std::size_t count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos;
         pos = haystack.find(needle, pos + 1))
      ++n;
    return n;
  }
};

TEST_F(TlsE2e, UntrustedCaIsRefusedUntilTheConfigTrustsIt) {
  auto r = run({"rotate", "--all"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("TLS verification failed"));
  EXPECT_EQ(sb_->salesforce().log().count("*") + sb_->infisical().log().count("*"), 0)
      << "no request got through";
}

TEST_F(TlsE2e, SkipVerifyForLoopbackInfisicalAndAPinnedSalesforceRotate) {
  drop_in("[infisical]\ninsecure_skip_verify = true\n\n[connections.sandbox]\nca_file = \"" +
          sb_->ca_file() + "\"\npinned_public_key = \"" + pin() + "\"\n");
  auto r = run({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(r.err, "infisical.insecure_skip_verify: TLS certificate verification is off"), 1u)
      << r.err;
  for (int n = 1; n <= 3; ++n) EXPECT_TRUE(published(n).has_value()) << "app-" << n;
}

TEST_F(TlsE2e, AWrongPinFailsTheConnectionWithAnErrorNamingThePin) {
  drop_in("[infisical]\nca_file = \"" + sb_->ca_file() +
          "\"\n\n[connections.sandbox]\nca_file = \"" + sb_->ca_file() +
          "\"\npinned_public_key = \"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n");
  auto r = run({"rotate", "--all"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("does not match pinned_public_key"));
  EXPECT_THAT(r.err, Not(HasSubstr("verification is off")));
  for (int n = 1; n <= 3; ++n) EXPECT_FALSE(published(n).has_value()) << "app-" << n;
}

}  // namespace
}  // namespace eca::e2e

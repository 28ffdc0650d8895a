#include "agent/login_summary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace eca {
namespace {

using ::testing::ElementsAre;

TEST(LoginSummary, NoSharedSecretAnywhereSaysSo) {
  auto lines = login_summary({{"infisical", "aws-iam", "identity abc", false},
                              {"connection acme", "jwt-bearer", "", false}});
  EXPECT_THAT(lines,
              ElementsAre("login: infisical by aws-iam (identity abc)",
                          "login: connection acme by jwt-bearer", "no static secret on this VM"));
}

TEST(LoginSummary, NamesEachServiceThatKeepsASecret) {
  auto lines = login_summary({{"infisical", "universal-auth", "", true},
                              {"connection a", "client-credentials", "", true},
                              {"connection b", "jwt-bearer", "", false}});
  EXPECT_EQ(lines.back(), "static secrets on this VM: infisical, connection a");
}

TEST(LoginSummary, FromConfig) {
  Config cfg;
  cfg.infisical.auth_method = "kubernetes";
  cfg.infisical.identity_id = "id-1";
  cfg.connections["acme"].client_id = "3MVG9xyz-consumer";
  auto logins = service_logins(cfg);
  ASSERT_EQ(logins.size(), 2u);
  EXPECT_FALSE(logins[0].static_secret);
  EXPECT_EQ(logins[0].detail, "identity id-1, token file of the pod's service account");
  EXPECT_TRUE(logins[1].static_secret) << "client credentials keep the consumer secret here";
  EXPECT_EQ(logins[1].method, "client-credentials");
}

}  // namespace
}  // namespace eca

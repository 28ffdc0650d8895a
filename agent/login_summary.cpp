#include "agent/login_summary.h"

#include "clients/salesforce_jwt.h"

namespace eca {

std::string connection_login_summary(const ConnectionSettings& c) {
  if (c.auth == SfAuthMethod::ClientCredentials) {
    return "client credentials (consumer secret on this VM)";
  }
  const std::string audience =
      c.audience.empty() ? default_jwt_audience(c.my_domain_url) + " by host, My Domain on refusal"
                         : c.audience;
  return "JWT bearer as " + c.username + ", audience " + audience +
         " (no connection secret on this VM)";
}

}  // namespace eca

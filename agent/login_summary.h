// How the agent logs in to each service, and whether a shared secret sits on the VM
// for it: what `validate` and `status` print, so an operator moving a VM off static
// secrets can tell at a glance which ones it still holds.
#pragma once

#include <string>
#include <vector>

#include "agent/config.h"

namespace eca {

struct ServiceLogin {
  std::string service;  // "infisical", "connection acme"
  std::string method;   // "universal-auth", "aws-iam", ..., "client-credentials", "jwt-bearer"
  std::string detail;   // e.g. "identity 1f2e..." or "client secret stored on this VM"
  bool static_secret = false;  // a long-lived shared secret is stored on this VM for it
};

// The Infisical login and each connection's, from the config.
std::vector<ServiceLogin> service_logins(const Config& cfg);

// One "login: SERVICE by METHOD (DETAIL)" line per service, then either
// "no static secret on this VM" or the list of services that keep one.
std::vector<std::string> login_summary(const std::vector<ServiceLogin>& logins);

// One connection in words: "client credentials (consumer secret on this VM)" or
// "JWT bearer as USER, audience AUD (no connection secret on this VM)".
std::string connection_login_summary(const ConnectionSettings& c);

}  // namespace eca

#include "agent/login_summary.h"

#include "clients/salesforce_jwt.h"

namespace eca {
namespace {

ServiceLogin infisical_login(const InfisicalSettings& inf) {
  ServiceLogin i{"infisical", inf.auth_method, "", inf.auth_method == "universal-auth"};
  if (i.static_secret) {
    i.detail = "client id " + inf.client_id + ", client secret stored on this VM";
  } else if (inf.auth_method == "kubernetes" || inf.auth_method == "oidc" ||
             inf.auth_method == "jwt") {
    i.detail =
        "identity " + inf.identity_id + ", token file " +
        (inf.token_file.empty() ? std::string("of the pod's service account") : inf.token_file);
  } else {
    i.detail = "identity " + inf.identity_id + ", proof from the cloud's metadata service";
  }
  return i;
}

std::string jwt_audience(const ConnectionSettings& c) {
  return c.audience.empty()
             ? default_jwt_audience(c.my_domain_url) + " by host, My Domain on refusal"
             : c.audience;
}

// The consumer key is not shown: the agent names keys by fingerprint only.
ServiceLogin connection_login(const std::string& name, const ConnectionSettings& c) {
  if (c.auth == SfAuthMethod::ClientCredentials) {
    return {"connection " + name, "client-credentials",
            c.my_domain_url + ", consumer secret stored on this VM", true};
  }
  // The private key stays on the VM, but it is no shared secret: the org holds only the
  // certificate of it.
  return {"connection " + name, "jwt-bearer",
          "as " + c.username + ", audience " + jwt_audience(c) + ", no shared secret", false};
}

}  // namespace

std::vector<ServiceLogin> service_logins(const Config& cfg) {
  std::vector<ServiceLogin> out;
  out.push_back(infisical_login(cfg.infisical));
  for (const auto& [name, c] : cfg.connections) out.push_back(connection_login(name, c));
  return out;
}

std::vector<std::string> login_summary(const std::vector<ServiceLogin>& logins) {
  std::vector<std::string> lines;
  std::string with_secret;
  for (const auto& l : logins) {
    lines.push_back("login: " + l.service + " by " + l.method +
                    (l.detail.empty() ? std::string() : " (" + l.detail + ")"));
    if (l.static_secret) with_secret += (with_secret.empty() ? "" : ", ") + l.service;
  }
  lines.push_back(with_secret.empty() ? "no static secret on this VM"
                                      : "static secrets on this VM: " + with_secret);
  return lines;
}

std::string connection_login_summary(const ConnectionSettings& c) {
  if (c.auth == SfAuthMethod::ClientCredentials) {
    return "client credentials (consumer secret on this VM)";
  }
  return "JWT bearer as " + c.username + ", audience " + jwt_audience(c) +
         " (no connection secret on this VM)";
}

}  // namespace eca

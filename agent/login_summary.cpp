#include "agent/login_summary.h"

namespace eca {

std::vector<ServiceLogin> service_logins(const Config& cfg) {
  std::vector<ServiceLogin> out;
  const InfisicalSettings& inf = cfg.infisical;
  ServiceLogin i{"infisical", inf.auth_method, "", inf.auth_method == "universal-auth"};
  if (i.static_secret) {
    i.detail = "client id " + inf.client_id + ", client secret stored on this VM";
  } else if (inf.auth_method == "kubernetes" || inf.auth_method == "oidc" ||
             inf.auth_method == "jwt") {
    i.detail = "identity " + inf.identity_id + ", token file " +
               (inf.token_file.empty() ? std::string("of the pod's service account") : inf.token_file);
  } else {
    i.detail = "identity " + inf.identity_id + ", proof from the cloud's metadata service";
  }
  out.push_back(std::move(i));
  for (const auto& [name, c] : cfg.connections) {
    // Every connection uses the client credentials flow today: its consumer secret is
    // stored here. A connection auth method (JWT bearer) maps to its own entry.
    // The consumer key is not shown: the agent names keys by fingerprint only.
    out.push_back({"connection " + name, "client-credentials",
                   c.my_domain_url + ", consumer secret stored on this VM", true});
  }
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

}  // namespace eca

#include "agent/delivery_clients.h"

namespace eca {

InfisicalApi& DeliveryClients::get(const std::string& project_id, const std::string& environment) {
  const auto& inf = config_.infisical;
  if (project_id == inf.project_id && environment == inf.environment) return main_;
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = others_[project_id + "\n" + environment];
  if (!slot) {
    InfisicalEndpoint ie;
    ie.url = inf.url;
    ie.project_id = project_id;
    ie.environment = environment;
    ie.client_id = inf.client_id;
    ie.client_secret = inf.client_secret.clone();
    ie.tls = {inf.ca_file, inf.ca_dir, inf.pinned_public_key, inf.insecure_skip_verify};
    const Clock* clock = &clock_;
    slot = std::make_unique<InfisicalClient>(transport_, std::move(ie),
                                             [clock] { return clock->now(); });
  }
  return *slot;
}

}  // namespace eca

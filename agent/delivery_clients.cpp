#include "agent/delivery_clients.h"

namespace eca {

InfisicalApi& DeliveryClients::get(const std::string& project_id, const std::string& environment) {
  const auto& inf = config_.infisical;
  if (project_id == inf.project_id && environment == inf.environment) return runtime_.infisical();
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = others_[project_id + "\n" + environment];
  if (!slot) slot = runtime_.infisical_client_for(project_id, environment);
  return *slot;
}

}  // namespace eca

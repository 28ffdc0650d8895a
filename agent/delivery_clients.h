// The Infisical clients deliveries read through: the runtime's own for the [infisical]
// project and environment, and one more per other place a [[deliver]] names, made on
// first use by the runtime (same server, login method, TLS settings and request budget,
// so the polls of every place pace within [infisical] rate_limits with the rotations).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/runtime.h"
#include "clients/infisical_client.h"

namespace eca {

class DeliveryClients {
 public:
  DeliveryClients(const Config& config, Runtime& runtime) : config_(config), runtime_(runtime) {}
  InfisicalApi& get(const std::string& project_id, const std::string& environment);

 private:
  const Config& config_;
  Runtime& runtime_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<InfisicalClient>> others_;
};

}  // namespace eca

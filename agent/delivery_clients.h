// The Infisical clients deliveries read through: the runtime's own for the [infisical]
// project and environment, and one more per other place a [[deliver]] names (same
// server, identity and TLS settings), made on first use.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/config.h"
#include "clients/infisical_client.h"
#include "common/clock.h"

namespace eca {

class DeliveryClients {
 public:
  DeliveryClients(const Config& config, HttpTransport& transport, InfisicalClient& main,
                  const Clock& clock)
      : config_(config), transport_(transport), main_(main), clock_(clock) {}
  InfisicalApi& get(const std::string& project_id, const std::string& environment);

 private:
  const Config& config_;
  HttpTransport& transport_;
  InfisicalClient& main_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<InfisicalClient>> others_;
};

}  // namespace eca

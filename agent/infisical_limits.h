// Infisical's request limits as the agent sees them: which limits apply to a server, and
// what a rotation's publish costs (reserved before staging, see RotationEngine).
#pragma once

#include <string>

#include "clients/request_budget.h"

namespace eca {

// Infisical Cloud's hosts (app.infisical.com and its regions, e.g. eu.infisical.com)
// get the Cloud preset; any other (self-hosted) server none, since Infisical enforces
// none there unless its operator puts a limiter in front. `url` as validated by the config.
RateLimits default_infisical_rate_limits(const std::string& url);

// The requests a publish sends after Salesforce has promoted the new pair: the batch
// upsert and, when its answer does not prove the write, one read-back list; both are
// secret operations.
RequestCost publish_request_cost();

}  // namespace eca

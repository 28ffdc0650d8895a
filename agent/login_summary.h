// How each service is logged in to, in words, for `validate` and `status`: an operator
// moving a VM off static secrets wants to see which ones it still holds.
#pragma once

#include <string>

#include "agent/config.h"

namespace eca {

// "client credentials (consumer secret on this VM)" or
// "JWT bearer as USER, audience AUD (no connection secret on this VM)".
std::string connection_login_summary(const ConnectionSettings& c);

}  // namespace eca

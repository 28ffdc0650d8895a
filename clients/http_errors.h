// What a failed HTTP answer means, the same for both services: the kind of error and
// the wait the server asked for. The clients add what the operator should fix.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "clients/http_transport.h"
#include "common/result.h"

namespace eca {

// 429, 408 and 5xx: worth retrying later (Transient); 401: the token (Auth); any other
// status: Permanent until someone changes something.
ErrorKind error_kind_for_status(int status);

// The wait the answer asks for: the larger of its Retry-After header (delta-seconds)
// and a "try again in N seconds" in `message` (Infisical's 429 text); none when neither
// says. Capped at a day so that a hostile value cannot park a rotation for ever.
std::optional<std::chrono::seconds> requested_wait(const HttpResponse& response,
                                                   std::string_view message = {});

}  // namespace eca

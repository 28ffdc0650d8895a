// Admin routes both fakes serve under /__sandbox/ for scripts driving the
// standalone sandbox. They exist only in the sandbox and never print secrets.
#pragma once

#include <string>

#include "tests/sandbox/fake_clock.h"
#include "tests/sandbox/fake_server.h"

namespace eca::sandbox {

inline constexpr const char* kAdminEndpoint = "sandbox.admin";

// POST /__sandbox/clock {"advance_seconds": N}: moves the shared fake clock.
// Returns false when the request is not that route.
bool handle_clock_route(FakeClock& clock, const HttpRequest& request, HttpResponse& response);

// "3MVG9abc…": enough to tell credentials apart in output, never the key itself.
std::string key_fingerprint(const std::string& key);

}  // namespace eca::sandbox

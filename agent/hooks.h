// Hooks: `[agent] on_success` / `on_failure` commands run after each rotation
// attempt, the way to page someone or post to a chat. The command runs through
// /bin/sh with the outcome in environment variables (never a secret), stdin
// closed, output passed to our stderr, and is killed after the timeout.
//   ECA_ROTATION, ECA_OUTCOME (rotated|published|not-due|deferred|revoked|failed),
//   ECA_ERROR (the operator-facing message, empty on success), ECA_ERROR_KIND,
//   ECA_GENERATION, ECA_KEY_FINGERPRINT
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace eca {

// Runs `argv` (argv[0] looked up in PATH) with our environment minus ECA_* plus `env`,
// stdin closed, output to our stderr, in its own process group with no signal blocked
// (the daemon blocks its signals for signalfd), killing the group after `timeout`.
// Returns "" on exit 0, else what went wrong (exit code, signal, timeout).
std::string run_argv_hook(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          std::chrono::seconds timeout);

// The same for a shell command line (/bin/sh -c).
std::string run_hook(const std::string& command, const std::map<std::string, std::string>& env,
                     std::chrono::seconds timeout);

}  // namespace eca

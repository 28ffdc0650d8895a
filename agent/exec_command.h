// `eca-rotator exec [--delivery NAME] [--watch] [--grace SECONDS] -- COMMAND [ARGS...]`:
// runs COMMAND with a delivery's opened pair in its environment (the delivery's
// key_variable / secret_variable), like `infisical run`. With --watch it polls the source
// every poll_seconds and, on a new generation, stops the child (SIGTERM, the grace period,
// then SIGKILL) and starts it again with the new pair. Signals sent to us go to the child;
// our exit status is the child's (128 + signal when it was killed).
#pragma once

#include <string>
#include <vector>

namespace eca {

// `args`: everything after "exec" on the command line.
int run_exec(const std::string& config_path, const std::vector<std::string>& args);

}  // namespace eca

// The command line: parses arguments and dispatches to one command.
#pragma once

namespace eca {

// Returns the process exit code: 0 success, 1 some work failed, 2 usage or config error.
int run_cli(int argc, char** argv);

}  // namespace eca

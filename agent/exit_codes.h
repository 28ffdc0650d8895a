// The agent's exit codes (also in --help, README.md and the man page). 1 and 2 are the
// usual failure and usage codes; the others let cron and monitoring tell cases apart
// without parsing output.
#pragma once

namespace eca {

constexpr int kExitFailed = 1;         // something failed or was refused; stderr says what
constexpr int kExitUsage = 2;          // usage or configuration error; nothing contacted
constexpr int kExitStatusProblem = 3;  // status --online: a row shows a problem
// rotate, run --once: deferred, none failed (EX_TEMPFAIL: try later)
constexpr int kExitDeferred = 75;

}  // namespace eca

// Daemon: `eca-rotator run`. Sleeps until the next rotation falls due (a
// realtime timer that also fires when the wall clock is set, so an NTP step or
// manual change re-plans the schedule), runs due rotations with bounded
// concurrency, retries failures with exponential backoff and jitter, reloads the
// config on SIGHUP (only if it is valid), and on SIGTERM/SIGINT stops starting
// new rotations, lets the ones in flight finish their step, and exits 0.
#pragma once

#include <string>

namespace eca {

struct DaemonOptions {
  std::string config_path;
  bool once = false;         // one scheduling pass (recover, rotate what is due), then exit
  bool no_progress = false;  // with `once`: no progress line even on a terminal
};

// Exit code: 0, or 2 for a configuration error at start; with `once`, 1 when a rotation failed.
int run_daemon(const DaemonOptions& options);

}  // namespace eca

// systemd's notification protocol (sd_notify), spoken directly over the
// datagram socket named by $NOTIFY_SOCKET so no libsystemd is needed. Outside
// systemd (no NOTIFY_SOCKET) every call is a no-op.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace eca {

class SdNotifier {
 public:
  SdNotifier();
  bool enabled() const { return !socket_path_.empty(); }
  void notify(const std::string& state) const;  // "READY=1\nSTATUS=..."
  // Half of $WATCHDOG_USEC when the watchdog is on for this process.
  std::optional<std::chrono::milliseconds> watchdog_interval() const { return watchdog_; }

 private:
  std::string socket_path_;
  std::optional<std::chrono::milliseconds> watchdog_;
};

}  // namespace eca

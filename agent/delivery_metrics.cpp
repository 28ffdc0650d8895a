// The [[deliver]] part of Metrics: per-delivery series and the lag rule of /healthz.
// Names and numbers only; an error is shown by the step that failed, never its text.
#include <cstdio>

#include "agent/metrics.h"

namespace eca {

void Metrics::set_delivery(const std::string& name, const DeliveryState& s) {
  std::lock_guard<std::mutex> lock(mu_);
  deliveries_[name] = s;
}

void Metrics::render_deliveries(std::string& o, TimePoint now) const {
  if (deliveries_.empty()) return;
  auto secs = [](std::chrono::system_clock::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", std::chrono::duration<double>(d).count());
    return std::string(buf);
  };
  o += "# HELP eca_rotator_delivery_generation The generation of the pair each delivery wrote.\n"
       "# TYPE eca_rotator_delivery_generation gauge\n";
  for (const auto& [n, s] : deliveries_)
    o += "eca_rotator_delivery_generation{delivery=\"" + n + "\"} " + std::to_string(s.generation) +
         "\n";
  o += "# HELP eca_rotator_delivery_source_age_seconds Seconds since the delivered pair was "
       "rotated.\n"
       "# TYPE eca_rotator_delivery_source_age_seconds gauge\n";
  for (const auto& [n, s] : deliveries_)
    if (s.source_changed)
      o += "eca_rotator_delivery_source_age_seconds{delivery=\"" + n + "\"} " +
           secs(now - *s.source_changed) + "\n";
  o += "# HELP eca_rotator_delivery_lag_seconds Seconds a delivery has not held its source's "
       "current pair.\n"
       "# TYPE eca_rotator_delivery_lag_seconds gauge\n";
  for (const auto& [n, s] : deliveries_)
    o += "eca_rotator_delivery_lag_seconds{delivery=\"" + n + "\"} " +
         (s.behind_since ? secs(now - *s.behind_since) : std::string("0")) + "\n";
  o += "# HELP eca_rotator_delivery_error 1 when the delivery's last attempt failed, by step.\n"
       "# TYPE eca_rotator_delivery_error gauge\n";
  for (const auto& [n, s] : deliveries_)
    o += "eca_rotator_delivery_error{delivery=\"" + n + "\",step=\"" +
         (s.error_stage.empty() ? std::string("none") : s.error_stage) + "\"} " +
         (s.error_stage.empty() ? "0" : "1") + "\n";
}

std::string Metrics::delivery_lag_locked(TimePoint now) const {
  for (const auto& [n, s] : deliveries_) {
    if (s.behind_since && now - *s.behind_since > s.max_lag)
      return "delivery " + n + " has not held its source's current pair since " +
             format_utc(*s.behind_since) + " (more than " + std::to_string(s.max_lag.count()) +
             " s)";
  }
  return "";
}

}  // namespace eca

#include "agent/api_budget.h"

#include <algorithm>

namespace eca {

std::size_t ApiBudget::rotations_that_fit() const {
  if (exhausted) return 0;
  const long long spare = remaining - reserve();
  if (spare <= 0) return 0;
  return static_cast<std::size_t>(spare / kRestCallsPerRotation);
}

std::string ApiBudget::line() const {
  if (exhausted) {
    return "salesforce org " + connection +
           ": daily API requests used up (REQUEST_LIMIT_EXCEEDED; reserve " +
           std::to_string(reserve_percent) + "%)";
  }
  return "salesforce org " + connection + ": daily API requests " + std::to_string(remaining) +
         " of " + std::to_string(max) + " left (reserve " + std::to_string(reserve_percent) +
         "% = " + std::to_string(reserve()) + ")";
}

std::string ApiBudget::deferral(std::size_t admitted) const {
  if (exhausted) {
    return "Salesforce org " + connection +
           " has used up its daily API requests (it answers REQUEST_LIMIT_EXCEEDED); next try "
           "after the daily reset (about 00:00 UTC)";
  }
  const std::string reserve_text = "the " + std::to_string(reserve_percent) + "% reserve (" +
                                   std::to_string(reserve()) + ") kept for its other integrations";
  std::string out = "Salesforce org " + connection + " has " + std::to_string(remaining) + " of " +
                    std::to_string(max) + " daily API requests left";
  if (admitted > 0) {
    out += ": room above " + reserve_text + " for " + std::to_string(admitted) + " rotation" +
           (admitted == 1 ? "" : "s") + " of about " + std::to_string(kRestCallsPerRotation) +
           " requests, started first";
  } else if (remaining < reserve()) {
    out += ", below " + reserve_text;
  } else {
    out += ", too close to " + reserve_text + " for a rotation (about " +
           std::to_string(kRestCallsPerRotation) + " requests)";
  }
  return out + "; next try after the daily reset (about 00:00 UTC)";
}

TimePoint next_utc_midnight(TimePoint now) {
  using Days = std::chrono::duration<long long, std::ratio<86400>>;
  const auto today = std::chrono::floor<Days>(now.time_since_epoch());
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(today + Days(1)));
}

}  // namespace eca

// Clock: the engine's only source of time, so tests can move it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace eca {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// ISO 8601 UTC with seconds: "2026-11-27T15:24:19Z".
std::string format_utc(TimePoint t);
// Parses "2026-11-27T15:24:19Z", "...19.123Z", "...19.000+0000" (Salesforce), "...+00:00".
bool parse_timestamp(std::string_view s, TimePoint& out);

}  // namespace eca

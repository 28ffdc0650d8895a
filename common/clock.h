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

// Test seam: the system clock plus an offset in milliseconds read from a file at every
// call, so an end-to-end test can move the agent's time together with the sandbox's.
// Enabled only by $ECA_ROTATOR_TEST_CLOCK_FILE; never set in production.
class OffsetFileClock final : public Clock {
 public:
  explicit OffsetFileClock(std::string path) : path_(std::move(path)) {}
  TimePoint now() const override;

 private:
  std::string path_;
};

enum class Zone { Utc, Local };
// `t` through strftime(3) in UTC or the process's time zone (TZ); empty if it would not
// fit 63 characters.
std::string format_time(TimePoint t, const char* strftime_format, Zone zone);
// ISO 8601 UTC with seconds: "2026-11-27T15:24:19Z".
std::string format_utc(TimePoint t);
// Parses "2026-11-27T15:24:19Z", "...19.123Z", "...19.000+0000" (Salesforce), "...+00:00".
bool parse_timestamp(std::string_view s, TimePoint& out);

}  // namespace eca

// Schedule: when a rotation is next due, with the meaning of Infisical's
// rotation settings (interval in days, time of day, auto-rotation on/off).
#pragma once

#include <optional>

#include "agent/config.h"
#include "agent/rotation_records.h"
#include "common/clock.h"

namespace eca {

struct ScheduleInput {
  std::optional<TimePoint> last_rotated;
  bool last_manual = false;
  bool last_failed = false;  // retries exhausted at last_attempt
  std::optional<TimePoint> last_attempt;
};

// Next due instant, or nullopt when auto-rotation is off. A rotation never done is due now
// (the next day at rotate_at once its retries are exhausted).
// Times of day are in the process's local zone (set TZ from [agent] timezone at start).
std::optional<TimePoint> next_due(const RotationSettings& r, const ScheduleInput& in,
                                  TimePoint now);

// The schedule's view of a record (last_failed false: only the daemon knows when a retry
// series is over).
ScheduleInput schedule_input(const std::optional<RotationRecord>& record);

// When the rotation is next attempted, from its record (nullopt: auto-rotation is off):
// the daemon's plan, `status` and the next-due metric all come from here, so they agree,
// also during a retry series (the record carries the daemon's retry_at).
std::optional<TimePoint> planned_next(const RotationSettings& r,
                                      const std::optional<RotationRecord>& record, TimePoint now);

// Applies [agent] timezone to the process ("local" leaves TZ alone). Call before threads start.
void apply_timezone(const std::string& tz);

// "2026-11-28 03:00 CET"
std::string format_local(TimePoint t);

}  // namespace eca

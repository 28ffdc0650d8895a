#include "agent/schedule.h"

#include <cstdlib>
#include <ctime>

namespace eca {
namespace {

// The instant of `hh:mm` local time on the calendar day of `day` plus `add_days`.
// mktime normalises a time skipped by a DST change forward to the first valid minute.
TimePoint at_time_of_day(TimePoint day, int add_days, int hh, int mm) {
  std::time_t t = std::chrono::system_clock::to_time_t(day);
  std::tm tm{};
  localtime_r(&t, &tm);
  tm.tm_mday += add_days;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  std::time_t result = std::mktime(&tm);
  // A time skipped by a spring-forward change: mktime moves it past the gap; the
  // first valid minute after the requested time is the start of the gap's far side.
  const int wanted = hh * 60 + mm;
  std::tm check{};
  localtime_r(&result, &check);
  if (check.tm_hour * 60 + check.tm_min != wanted) {
    for (int i = 0; i < 180; ++i) {
      std::time_t prev = result - 60;
      std::tm p{};
      localtime_r(&prev, &p);
      if (p.tm_mday != check.tm_mday || p.tm_hour * 60 + p.tm_min < wanted) break;
      result = prev;
    }
  }
  return std::chrono::system_clock::from_time_t(result);
}

}  // namespace

std::optional<TimePoint> next_due(const RotationSettings& r, const ScheduleInput& in,
                                  TimePoint now) {
  if (!r.auto_rotation) return std::nullopt;
  // The scheduled slot of a day: rotate_at plus this rotation's place in the splay window.
  auto slot = [&r](TimePoint day, int add_days) {
    return at_time_of_day(day, add_days, r.rotate_at.hour, r.rotate_at.minute) + r.splay;
  };
  if (!in.last_rotated) {
    // Never rotated: due now, unless its retries were exhausted (a first rotation that
    // keeps failing would otherwise be retried at once, forever): then the next day.
    if (in.last_failed && in.last_attempt) return slot(*in.last_attempt, 1);
    return now;
  }
  int days = r.interval_days;
  if (in.last_manual) {
    // A manual rotation after that day's slot would otherwise shorten the interval.
    if (*in.last_rotated > slot(*in.last_rotated, 0)) days += 1;
  }
  TimePoint due = slot(*in.last_rotated, days);
  if (in.last_failed && in.last_attempt && *in.last_attempt >= due) {
    // Retries exhausted: the next try is the next day's slot.
    due = slot(*in.last_attempt, 1);
  }
  return due;
}

std::optional<TimePoint> planned_next(const RotationSettings& r,
                                      const std::optional<RotationRecord>& record, TimePoint now) {
  if (!r.auto_rotation) return std::nullopt;
  if (record && record->consecutive_failures > 0 && record->retry_at) return *record->retry_at;
  // A failure no daemon planned a retry for (`rotate`, `run --once`) is tried again when
  // due, as the daemon does.
  return next_due(r, schedule_input(record), now);
}

ScheduleInput schedule_input(const std::optional<RotationRecord>& record) {
  ScheduleInput in;
  if (record) {
    in.last_rotated = record->last_rotated;
    in.last_manual = record->last_manual;
    in.last_attempt = record->last_attempt;
  }
  return in;
}

void apply_timezone(const std::string& tz) {
  if (tz.empty() || tz == "local") return;
  ::setenv("TZ", tz == "UTC" ? "UTC0" : tz.c_str(), 1);
  ::tzset();
}

std::string format_local(TimePoint t) {
  return format_time(t, "%Y-%m-%d %H:%M %Z", Zone::Local);
}

}  // namespace eca

#include "agent/schedule.h"

#include <cstdlib>
#include <ctime>

namespace eca {
namespace {

bool parse_hhmm(const std::string& s, int& h, int& m) {
  if (s.size() != 5 || s[2] != ':') return false;
  h = (s[0] - '0') * 10 + (s[1] - '0');
  m = (s[3] - '0') * 10 + (s[4] - '0');
  return h >= 0 && h < 24 && m >= 0 && m < 60;
}

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
  int hh = 0, mm = 0;
  if (!parse_hhmm(r.rotate_at, hh, mm)) hh = mm = 0;
  if (!in.last_rotated) {
    // Never rotated: due now, unless its retries were exhausted (a first rotation that
    // keeps failing would otherwise be retried at once, forever): then the next day.
    if (in.last_failed && in.last_attempt) return at_time_of_day(*in.last_attempt, 1, hh, mm);
    return now;
  }
  int days = r.interval_days;
  if (in.last_manual) {
    // A manual rotation after that day's rotate_at would otherwise shorten the interval.
    TimePoint that_day = at_time_of_day(*in.last_rotated, 0, hh, mm);
    if (*in.last_rotated > that_day) days += 1;
  }
  TimePoint due = at_time_of_day(*in.last_rotated, days, hh, mm);
  if (in.last_failed && in.last_attempt && *in.last_attempt >= due) {
    // Retries exhausted: the next try is the next day at rotate_at.
    due = at_time_of_day(*in.last_attempt, 1, hh, mm);
  }
  return due;
}

void apply_timezone(const std::string& tz) {
  if (tz.empty() || tz == "local") return;
  ::setenv("TZ", tz == "UTC" ? "UTC0" : tz.c_str(), 1);
  ::tzset();
}

std::string format_local(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &tm);
  return buf;
}

}  // namespace eca

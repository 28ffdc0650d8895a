#include "common/clock.h"

#include <cstdio>
#include <ctime>

namespace eca {

TimePoint OffsetFileClock::now() const {
  long long offset_ms = 0;
  if (std::FILE* f = std::fopen(path_.c_str(), "r")) {
    if (std::fscanf(f, "%lld", &offset_ms) != 1) offset_ms = 0;
    std::fclose(f);
  }
  return std::chrono::system_clock::now() + std::chrono::milliseconds(offset_ms);
}

std::string format_time(TimePoint t, const char* strftime_format, Zone zone) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (zone == Zone::Utc) {
    gmtime_r(&tt, &tm);
  } else {
    localtime_r(&tt, &tm);
  }
  char buf[64];
  // The callers pass literals; this is the one place that forwards them to strftime.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  const std::size_t n = std::strftime(buf, sizeof buf, strftime_format, &tm);
#pragma GCC diagnostic pop
  return std::string(buf, n);
}

std::string format_utc(TimePoint t) {
  return format_time(t, "%Y-%m-%dT%H:%M:%SZ", Zone::Utc);
}

bool parse_timestamp(std::string_view s, TimePoint& out) {
  if (s.size() < 19 || s.size() > 40) return false;
  std::string str(s);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  // Years outside 1900-2200 would overflow the nanosecond time_point (UB); none is plausible.
  if (tm.tm_year < 1900 || tm.tm_year > 2200 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  long offset = 0;
  if (rest == "Z" || rest.empty()) {
    offset = 0;
  } else if ((rest.size() == 5 || rest.size() == 6) && (rest[0] == '+' || rest[0] == '-')) {
    int hh = 0, mm = 0;
    std::string r(rest.substr(1));
    if (std::sscanf(r.c_str(), rest.size() == 5 ? "%2d%2d" : "%2d:%2d", &hh, &mm) != 2)
      return false;
    offset = (hh * 3600L + mm * 60L) * (rest[0] == '-' ? -1 : 1);
  } else {
    return false;
  }
  std::time_t tt = timegm(&tm);
  if (tt == static_cast<std::time_t>(-1)) return false;
  out = std::chrono::system_clock::from_time_t(tt - offset);
  return true;
}

}  // namespace eca

#include "tests/sandbox/time_format.h"

#include <cstdio>
#include <ctime>

namespace eca::sandbox {
namespace {

std::string format(std::chrono::system_clock::time_point t, const char* suffix) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000), suffix);
  return buf;
}

}  // namespace

std::string salesforce_date(std::chrono::system_clock::time_point t) {
  // Salesforce prints whole seconds with a zero millisecond field.
  return format(std::chrono::floor<std::chrono::seconds>(t), "+0000");
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  return format(t, "Z");
}

}  // namespace eca::sandbox

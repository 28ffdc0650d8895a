#include "agent/schedule.h"

#include <gtest/gtest.h>

namespace eca {
namespace {

TimePoint at(const char* iso) {
  TimePoint t;
  EXPECT_TRUE(parse_timestamp(iso, t)) << iso;
  return t;
}

class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override { apply_timezone("UTC"); }
  RotationSettings r() {
    RotationSettings s;
    s.interval_days = 14;
    s.rotate_at = "03:00";
    return s;
  }
};

TEST_F(ScheduleTest, NeverRotatedIsDueNow) {
  TimePoint now = at("2026-11-27T10:00:00Z");
  EXPECT_EQ(next_due(r(), {}, now), now);
}

TEST_F(ScheduleTest, NextIsLastDatePlusIntervalAtTimeOfDay) {
  ScheduleInput in;
  in.last_rotated = at("2026-11-01T03:00:12Z");
  EXPECT_EQ(next_due(r(), in, at("2026-11-02T00:00:00Z")), at("2026-11-15T03:00:00Z"));
}

TEST_F(ScheduleTest, ManualRotationAfterTimeOfDayAddsADay) {
  ScheduleInput in;
  in.last_rotated = at("2026-11-01T15:30:00Z");
  in.last_manual = true;
  EXPECT_EQ(next_due(r(), in, at("2026-11-02T00:00:00Z")), at("2026-11-16T03:00:00Z"));
  in.last_rotated = at("2026-11-01T02:00:00Z");  // before 03:00: a full interval passes anyway
  EXPECT_EQ(next_due(r(), in, at("2026-11-02T00:00:00Z")), at("2026-11-15T03:00:00Z"));
}

TEST_F(ScheduleTest, AutoRotationOffMeansNeverDue) {
  RotationSettings s = r();
  s.auto_rotation = false;
  EXPECT_FALSE(next_due(s, {}, at("2026-11-27T10:00:00Z")).has_value());
}

TEST_F(ScheduleTest, ExhaustedRetriesMoveToTheNextDay) {
  ScheduleInput in;
  in.last_rotated = at("2026-11-01T03:00:00Z");
  in.last_failed = true;
  in.last_attempt = at("2026-11-15T03:05:00Z");
  EXPECT_EQ(next_due(r(), in, at("2026-11-15T04:00:00Z")), at("2026-11-16T03:00:00Z"));
}

TEST_F(ScheduleTest, TimeSkippedBySpringForwardRunsAtTheFirstValidMinute) {
  apply_timezone("Europe/Berlin");
  RotationSettings s = r();
  s.interval_days = 1;
  s.rotate_at = "02:30";  // does not exist on 2026-03-29 in Berlin
  ScheduleInput in;
  in.last_rotated = at("2026-03-28T01:30:00Z");  // 02:30 CET
  auto due = next_due(s, in, at("2026-03-28T12:00:00Z"));
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, at("2026-03-29T01:00:00Z"));  // 03:00 CEST, the first valid minute after
  apply_timezone("UTC");
}

}  // namespace
}  // namespace eca

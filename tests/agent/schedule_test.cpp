#include "agent/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

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
    s.rotate_at = TimeOfDay{3, 0};
    return s;
  }
};

TEST_F(ScheduleTest, NeverRotatedIsDueNow) {
  TimePoint now = at("2026-11-27T10:00:00Z");
  EXPECT_EQ(next_due(r(), {}, now), now);
}

TEST_F(ScheduleTest, NeverRotatedWithRetriesExhaustedWaitsForTheNextDay) {
  ScheduleInput in;
  in.last_failed = true;
  in.last_attempt = at("2026-11-27T10:00:00Z");
  EXPECT_EQ(next_due(r(), in, at("2026-11-27T10:00:01Z")), at("2026-11-28T03:00:00Z"));
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
  s.rotate_at = TimeOfDay{2, 30};  // does not exist on 2026-03-29 in Berlin
  ScheduleInput in;
  in.last_rotated = at("2026-03-28T01:30:00Z");  // 02:30 CET
  auto due = next_due(s, in, at("2026-03-28T12:00:00Z"));
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, at("2026-03-29T01:00:00Z"));  // 03:00 CEST, the first valid minute after
  apply_timezone("UTC");
}

TEST_F(ScheduleTest, TimeRepeatedByFallBackRunsOnce) {
  apply_timezone("Europe/Berlin");
  RotationSettings s = r();
  s.interval_days = 1;
  s.rotate_at = TimeOfDay{2, 30};  // exists twice on 2026-10-25 in Berlin
  ScheduleInput in;
  in.last_rotated = at("2026-10-24T00:30:00Z");  // 02:30 CEST
  auto due = next_due(s, in, at("2026-10-24T12:00:00Z"));
  ASSERT_TRUE(due.has_value());
  // One of the two 02:30s (00:30Z or 01:30Z), and the next day's is a full day later.
  EXPECT_TRUE(*due == at("2026-10-25T00:30:00Z") || *due == at("2026-10-25T01:30:00Z"));
  ScheduleInput after;
  after.last_rotated = *due;
  auto next = next_due(s, after, *due);
  EXPECT_EQ(next, at("2026-10-26T01:30:00Z"));  // 02:30 CET
  apply_timezone("UTC");
}

// The rule depends on the last rotation, not on "now": a wall clock that jumps back or
// forward moves the due instant nowhere, so a jump can make a rotation run late or early
// once, never twice within an interval.
TEST_F(ScheduleTest, ClockJumpsDoNotMoveTheDueInstant) {
  ScheduleInput in;
  in.last_rotated = at("2026-11-01T03:00:00Z");
  const auto due = next_due(r(), in, at("2026-11-02T00:00:00Z"));
  EXPECT_EQ(next_due(r(), in, at("2025-01-01T00:00:00Z")), due) << "jump backwards";
  EXPECT_EQ(next_due(r(), in, at("2027-06-01T00:00:00Z")), due) << "jump forwards";
  ScheduleInput rotated_after_jump;
  rotated_after_jump.last_rotated = at("2027-06-01T00:00:05Z");
  EXPECT_EQ(next_due(r(), rotated_after_jump, at("2027-06-01T00:01:00Z")),
            at("2027-06-15T03:00:00Z"))
      << "after the catch-up rotation, a full interval";
}

// Agents sharing a templated config must agree on when each rotation starts, and a fleet
// sharing one rotate_at must not start in the same second.
TEST_F(ScheduleTest, SplaySpreadsRotationsSharingATimeOfDayTheSameWayOnEveryAgent) {
  ScheduleInput in;
  in.last_rotated = at("2026-11-01T03:00:00Z");
  const TimePoint slot = at("2026-11-15T03:00:00Z");
  const TimePoint window_end = slot + std::chrono::minutes(60);
  std::set<TimePoint> starts;
  for (int i = 0; i < 200; ++i) {
    RotationSettings s = r();
    s.name = "app-" + std::to_string(i);
    s.splay = splay_offset(s.name, 60);
    EXPECT_EQ(s.splay, splay_offset(s.name, 60)) << "a function of the name alone";
    auto due = next_due(s, in, at("2026-11-02T00:00:00Z"));
    ASSERT_TRUE(due.has_value());
    EXPECT_GE(*due, slot) << s.name;
    EXPECT_LT(*due, window_end) << s.name;
    starts.insert(*due);
  }
  // Spread, not bunched: 200 names over 3600 s land on many distinct seconds and in every
  // quarter of the window.
  EXPECT_GT(starts.size(), 150u);
  for (int q = 0; q < 4; ++q) {
    const TimePoint from = slot + std::chrono::minutes(15 * q);
    const TimePoint to = from + std::chrono::minutes(15);
    EXPECT_GT(std::count_if(starts.begin(), starts.end(),
                            [&](TimePoint t) { return t >= from && t < to; }),
              20)
        << "quarter " << q;
  }
  // No splay configured: everything starts at rotate_at.
  RotationSettings plain = r();
  plain.name = "app-1";
  plain.splay = splay_offset(plain.name, 0);
  EXPECT_EQ(next_due(plain, in, at("2026-11-02T00:00:00Z")), slot);
}

TEST_F(ScheduleTest, SplayAppliesToTheNextDayAfterExhaustedRetriesAndToManualRotations) {
  RotationSettings s = r();
  s.splay = std::chrono::seconds(1200);  // 03:20
  ScheduleInput failed;
  failed.last_failed = true;
  failed.last_attempt = at("2026-11-27T10:00:00Z");
  EXPECT_EQ(next_due(s, failed, at("2026-11-27T10:00:01Z")), at("2026-11-28T03:20:00Z"));
  // A manual rotation at 03:10 is before that day's slot (03:20): the interval is not
  // lengthened; one at 03:30 is after it: one day more.
  ScheduleInput early;
  early.last_rotated = at("2026-11-01T03:10:00Z");
  early.last_manual = true;
  EXPECT_EQ(next_due(s, early, at("2026-11-02T00:00:00Z")), at("2026-11-15T03:20:00Z"));
  ScheduleInput late = early;
  late.last_rotated = at("2026-11-01T03:30:00Z");
  EXPECT_EQ(next_due(s, late, at("2026-11-02T00:00:00Z")), at("2026-11-16T03:20:00Z"));
}

}  // namespace
}  // namespace eca

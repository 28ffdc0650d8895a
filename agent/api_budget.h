// Salesforce's daily API requests as the agent spends them: the org's DailyApiRequests
// (read once per connection before a burst), the reserve a connection leaves to the org's
// other integrations (api_reserve_percent), and how many rotations fit above it.
#pragma once

#include <cstddef>
#include <string>

#include "common/clock.h"

namespace eca {

// The REST calls (requests under /services/data/, each counted against DailyApiRequests)
// one rotation makes when nothing goes wrong, from the protocol (rotation_engine.cpp):
//   R2  consumers: find the consumer and its primary key            1
//   R4  staged slot: what is Active or Rotated                      1
//   R8  revoke the Rotated credential of two rotations ago          1 (none on the first)
//   R2  consumers again, right before staging (agents sharing one)  1
//   R5  stage                                                       1
//   R7  promote                                                     1
// The verify step is an OAuth token request (/services/oauth2/token): Salesforce does not
// count token requests against the daily API requests, and neither does the fake org.
// The /limits read before a burst is one call per connection, not per rotation: the
// Remaining it answers is taken after it. A retried, resumed or reconciled rotation makes
// a few more (tests/agent/rotation_engine_test.cpp and tests/e2e/api_budget_e2e_test.cpp
// compare this with what the fake org counts for a first and a steady-state rotation).
inline constexpr long long kRestCallsPerRotation = 6;

struct ApiBudget {
  std::string connection;
  long long max = 0;        // DailyApiRequests.Max
  long long remaining = 0;  // DailyApiRequests.Remaining when read
  int reserve_percent = 10;
  // The org answered REQUEST_LIMIT_EXCEEDED (to /limits too): nothing left, max unknown.
  bool exhausted = false;

  long long reserve() const { return max * reserve_percent / 100; }
  // How many rotations fit in remaining − reserve.
  std::size_t rotations_that_fit() const;
  // "salesforce org NAME: daily API requests R of M left (reserve P% = N)"
  std::string line() const;
  // Why a rotation did not start, `admitted` others of the same burst having started.
  std::string deferral(std::size_t admitted) const;
};

// The next 00:00 UTC after `now`: when "the daily reset" is taken to be.
TimePoint next_utc_midnight(TimePoint now);

}  // namespace eca

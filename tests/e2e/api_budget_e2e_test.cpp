// Issue 14, Salesforce's budget: the fake org counting every REST call against
// DailyApiRequests, the agent reading /limits before a burst and leaving the connection's
// api_reserve_percent to the org's other integrations.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "agent/api_budget.h"
#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kApps = 4;

class ApiBudgetE2e : public E2eFixture {
 protected:
  sandbox::SandboxOptions sandbox_options() const override {
    sandbox::SandboxOptions options;
    options.target_apps = kApps;
    options.salesforce_daily_api_max = 1000;  // reserve 10% = 100
    return options;
  }
  void SetUp() override {
    E2eFixture::SetUp();
    clock_file_ = dir_ / "clock-offset-ms";
    sync_clock();
  }
  void sync_clock() { std::ofstream(clock_file_) << sb_->clock().offset().count(); }
  ProcessResult agent(std::vector<std::string> args) {
    ProcessResult r = run_agent(with_config(std::move(args)),
                                {{"!CREDENTIALS_DIRECTORY", ""},
                                 {"ECA_ROTATOR_TEST_CLOCK_FILE", clock_file_.string()},
                                 {"TZ", "UTC"}});
    remember(r);
    return r;
  }
  // REST calls the fake org served (token requests are not REST calls).
  long long rest_calls() const { return sb_->salesforce().rest_requests(); }
  std::filesystem::path clock_file_;
};

TEST_F(ApiBudgetE2e, ARotationMakesTheRestCallsTheBudgetCountsOn) {
  write_config();
  // What the fake org counted against DailyApiRequests for the first rotation of app-1
  // (nothing Rotated to revoke yet: R8 is skipped) and for the second (steady state), less
  // the one /limits read of each burst. Token requests (the login, the verify) are free.
  const long long expected[] = {kRestCallsPerRotation - 1, kRestCallsPerRotation};
  for (int round = 1; round <= 2; ++round) {
    const long long before = rest_calls();
    const long long remaining_before = sb_->salesforce().daily_api().remaining;
    const int limits_before = sb_->salesforce().request_count("sf.limits");
    const int tokens_before = sb_->salesforce().request_count("sf.token");
    auto r = agent({"rotate", "app-1"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(sb_->salesforce().request_count("sf.limits") - limits_before, 1) << "round " << round;
    EXPECT_GE(sb_->salesforce().request_count("sf.token") - tokens_before, 2)
        << "round " << round << ": the login and the verify";
    EXPECT_EQ(rest_calls() - before - 1, expected[round - 1]) << "round " << round;
    EXPECT_EQ(remaining_before - sb_->salesforce().daily_api().remaining, rest_calls() - before)
        << "round " << round << ": every REST call is taken from the day's budget";
  }
}

TEST_F(ApiBudgetE2e, ABurstRotatesWhatFitsAboveTheReserveAndTheRestAfterTheDailyReset) {
  write_config();
  // 2 rotations fit above the reserve of 100 (the /limits call itself takes one more).
  sb_->salesforce().set_daily_api(1000, 100 + 2 * kRestCallsPerRotation + 1);
  std::map<std::string, sandbox::Credential> before;
  for (const auto& app : sb_->target_apps()) before[app.id] = *sb_->salesforce().primary(app.id);

  auto r = agent({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 2) << r.err;
  const std::string line = "deferred: Salesforce org sandbox has " +
                           std::to_string(100 + 2 * kRestCallsPerRotation) +
                           " of 1000 daily API requests left: room above the 10% reserve (100) "
                           "kept for its other integrations for 2 rotations";
  for (int n = 3; n <= kApps; ++n) {
    const auto& app = sb_->target_apps()[static_cast<std::size_t>(n - 1)];
    EXPECT_THAT(r.err, HasSubstr("[app-" + std::to_string(n) + "] " + line)) << r.err;
    EXPECT_FALSE(sb_->salesforce().staged(app.id).has_value()) << "app-" << n;
    EXPECT_EQ(sb_->salesforce().primary(app.id)->key, before[app.id].key) << "app-" << n;
    EXPECT_FALSE(published(n).has_value()) << "app-" << n;
  }
  EXPECT_THAT(r.err, HasSubstr("next try after the daily reset (about 00:00 UTC)"));
  EXPECT_THAT(r.err, HasSubstr("2 of 4 rotations deferred: the Salesforce org's daily API "
                               "requests are kept for its other integrations"));
  EXPECT_GE(sb_->salesforce().daily_api().remaining, 100) << "the reserve was left alone";
  for (int n = 1; n <= 2; ++n) ASSERT_TRUE(published(n).has_value()) << "app-" << n;

  // Past the fake org's next UTC midnight (the agent's clock moved with it).
  const auto now = sb_->clock().now();
  const auto midnight = next_utc_midnight(now);
  sb_->clock().advance(std::chrono::duration_cast<std::chrono::milliseconds>(midnight - now) +
                       std::chrono::minutes(1));
  sync_clock();
  EXPECT_EQ(sb_->salesforce().daily_api().remaining, 1000);
  r = agent({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("deferred")));
  expect_every_published_pair_authenticates(true);
}

TEST_F(ApiBudgetE2e, NothingLeftBelowTheReserveDefersEverythingAndStagesNothing) {
  write_config();
  sb_->salesforce().set_daily_api(1000, 50);
  auto r = agent({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 0);
  EXPECT_THAT(r.err, HasSubstr("[app-1] deferred: Salesforce org sandbox has 49 of 1000 daily API "
                               "requests left, below the 10% reserve (100) kept for its other "
                               "integrations; next try after the daily reset (about 00:00 UTC)"))
      << r.err;
  // An exhausted org refuses /limits too: that reads as nothing left, not as "unknown".
  sb_->salesforce().set_daily_api(1000, 0);
  r = agent({"rotate", "app-2"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("[app-2] deferred: Salesforce org sandbox has used up its daily "
                               "API requests (it answers REQUEST_LIMIT_EXCEEDED)"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 0);
}

// The daemon's pass for cron: the same admission, and the schedule says when it tries again.
TEST_F(ApiBudgetE2e, RunOnceDefersBelowTheReserveUntilTheDailyReset) {
  write_config();
  sb_->salesforce().set_daily_api(1000, 50);
  auto r = agent({"run", "--once", "--no-progress"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("[app-1] deferred: Salesforce org sandbox has 49 of 1000 daily API "
                               "requests left, below the 10% reserve (100)"))
      << r.err;
  EXPECT_THAT(r.err, ::testing::ContainsRegex(
                         "\\[app-4\\] schedule: deferred for the org's daily API requests; next "
                         "try [0-9]+-[0-9]+-[0-9]+ 00:00 UTC \\(this pass exits 75\\)"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 0);
  for (int n = 1; n <= kApps; ++n) EXPECT_FALSE(published(n).has_value()) << "app-" << n;
}

// Recovery is never held back: a rotation with a journal entry has changed Salesforce
// already, so it is finished even when the org is below the reserve.
TEST_F(ApiBudgetE2e, AnInterruptedRotationIsFinishedEvenBelowTheReserve) {
  write_config();
  const auto& app1 = sb_->target_apps()[0];
  sb_->salesforce().inject(sandbox::Fault::answer(
      "sf.promote", 400, R"([{"errorCode":"INVALID_OPERATION","message":"refused on purpose"}])"));
  auto r = agent({"rotate", "app-1"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  ASSERT_TRUE(std::filesystem::exists(dir_ / "state" / "journal" / "app-1.rec")) << r.err;
  const auto staged = sb_->salesforce().staged(app1.id);
  ASSERT_TRUE(staged.has_value());
  ASSERT_EQ(staged->state, sandbox::StagedState::Active) << "staged, not promoted";
  const int stages = sb_->salesforce().request_count("sf.stage");

  sb_->salesforce().set_daily_api(1000, 50);
  r = agent({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("[app-1] deferred"))) << r.err;
  EXPECT_THAT(r.err, HasSubstr("[app-2] deferred: Salesforce org sandbox has "));
  EXPECT_THAT(r.out, HasSubstr("completed after an interruption")) << r.out;
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), stages) << "nothing new was staged";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state" / "journal" / "app-1.rec"));
  ASSERT_TRUE(published(1).has_value());
  EXPECT_EQ(published(1)->key, staged->credential.key);
  EXPECT_EQ(sb_->salesforce().primary(app1.id)->key, staged->credential.key);
  for (int n = 2; n <= kApps; ++n) EXPECT_FALSE(published(n).has_value()) << "app-" << n;
}

TEST_F(ApiBudgetE2e, MetricsCountTheAgentsRestCallsAndShowTheBudget) {
  write_config();
  const auto metrics = dir_ / "eca.prom";
  std::filesystem::create_directories(dir_ / "conf.d");
  std::ofstream(dir_ / "conf.d" / "10-ops.toml")
      << "[agent]\nmetrics_file = \"" << metrics.string() << "\"\n";
  auto read_metrics = [&metrics] {
    std::ifstream in(metrics);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // Two of the four rotations fit: the counter is every REST call the fake org counted.
  sb_->salesforce().set_daily_api(1000, 100 + 2 * kRestCallsPerRotation + 1);
  long long before = rest_calls();
  auto r = agent({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 75) << r.out << r.err;
  std::string m = read_metrics();
  EXPECT_THAT(m, HasSubstr("eca_rotator_salesforce_rest_calls_total{connection=\"sandbox\"} " +
                           std::to_string(rest_calls() - before) + "\n"))
      << m;
  EXPECT_THAT(m, HasSubstr("eca_rotator_salesforce_daily_api_remaining{connection=\"sandbox\"} " +
                           std::to_string(100 + 2 * kRestCallsPerRotation) + "\n"));
  EXPECT_THAT(m, HasSubstr("eca_rotator_salesforce_daily_api_max{connection=\"sandbox\"} 1000\n"));

  // Everything deferred: no rotation reports, and the file still shows the reading.
  sb_->salesforce().set_daily_api(1000, 50);
  before = rest_calls();
  r = agent({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_EQ(rest_calls() - before, 1) << "the /limits read only";
  m = read_metrics();
  EXPECT_THAT(m, HasSubstr("eca_rotator_salesforce_rest_calls_total{connection=\"sandbox\"} 1\n"))
      << m;
  EXPECT_THAT(m,
              HasSubstr("eca_rotator_salesforce_daily_api_remaining{connection=\"sandbox\"} 49\n"));
}

TEST_F(ApiBudgetE2e, AReserveOfZeroAndAnUnreadableBudgetNeverBlockRotation) {
  write_config();
  std::string t = slurp_config();
  t.replace(t.find("[connections.sandbox]\n"), 22,
            "[connections.sandbox]\napi_reserve_percent = 0\n");
  std::ofstream(config_) << t;
  sb_->salesforce().set_daily_api(1000, 1 + kRestCallsPerRotation);
  auto r = agent({"rotate", "app-1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // The limits call fails: a warning, and the rotation goes ahead.
  sb_->salesforce().set_daily_api(1000, 1000);
  sb_->salesforce().inject(sandbox::Fault::answer("sf.limits", 500, "oops", -1));
  r = agent({"rotate", "app-2"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("could not read the daily API requests of Salesforce org sandbox"));
  EXPECT_THAT(r.err, HasSubstr("rotating without the budget check"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 2);
}

TEST_F(ApiBudgetE2e, ValidateOnlineAndAppsShowTheBudget) {
  write_config();
  sb_->salesforce().set_daily_api(15000, 13211);
  auto r = agent({"validate", "--online"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("salesforce org sandbox: daily API requests 13210 of 15000 left "
                               "(reserve 10% = 1500)"));
  r = agent({"apps", "--connection", "sandbox"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The last REST call apps makes is the /limits read: what it saw is what is left now.
  EXPECT_THAT(r.out, HasSubstr("\nsalesforce org sandbox: daily API requests " +
                               std::to_string(sb_->salesforce().daily_api().remaining) +
                               " of 15000 left (reserve 10% = 1500)\n"))
      << r.out;
  r = agent({"apps", "--connection", "sandbox", "--snippet"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("# salesforce org sandbox: daily API requests " +
                               std::to_string(sb_->salesforce().daily_api().remaining) +
                               " of 15000 left (reserve 10% = 1500)\n"))
      << r.out;
  // Unreadable: said so, and what that means for rotations.
  sb_->salesforce().inject(sandbox::Fault::answer("sf.limits", 500, "oops", -1));
  r = agent({"validate", "--online"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("salesforce org sandbox: daily API requests unknown ("));
  EXPECT_THAT(r.out, HasSubstr("); rotations go ahead without the budget check"));
}

}  // namespace
}  // namespace eca::e2e

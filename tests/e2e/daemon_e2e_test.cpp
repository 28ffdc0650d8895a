// `eca-rotator run` against the sandbox, with the agent's clock moved together with
// the sandbox's (the ECA_ROTATOR_TEST_CLOCK_FILE seam): scheduling over several
// intervals, restarts, SIGHUP reloads and SIGTERM in the middle of a rotation.
#include <signal.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "common/clock.h"
#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;

class DaemonE2e : public E2eFixture {
 protected:
  void SetUp() override {
    E2eFixture::SetUp();
    clock_file_ = dir_ / "clock-offset-ms";
    sync_clock();
  }
  void sync_clock() { std::ofstream(clock_file_) << sb_->clock().offset().count(); }
  void advance(std::chrono::hours h) {
    sb_->clock().advance(std::chrono::duration_cast<std::chrono::milliseconds>(h));
    sync_clock();
  }
  std::unique_ptr<AgentProcess> start_daemon() {
    return std::make_unique<AgentProcess>(
        ECA_ROTATOR_BIN, with_config({"run"}),
        std::map<std::string, std::string>{{"!CREDENTIALS_DIRECTORY", ""},
                                           {"ECA_ROTATOR_TEST_CLOCK_FILE", clock_file_.string()},
                                           {"TZ", "UTC"}});
  }
  // Polls until `pred` holds (true) or the time is up (false).
  static bool eventually(const std::function<bool()>& pred, int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
  }
  int promotes() const { return sb_->salesforce().request_count("sf.promote"); }
  // Every rotation committed generation `g` (the state files are written last).
  bool committed(int g) const {
    for (int n = 1; n <= 3; ++n) {
      std::ifstream in(dir_ / "state" / "rotations" / ("app-" + std::to_string(n) + ".json"));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("\"generation\":" + std::to_string(g) + ",") == std::string::npos) return false;
    }
    return true;
  }
  ProcessResult stop(AgentProcess& p) {
    ::kill(p.pid(), SIGTERM);
    auto r = p.wait(30);
    remember(r);
    return r;
  }
  std::filesystem::path clock_file_;
};

TEST_F(DaemonE2e, RotatesEachAppExactlyWhenDueAcrossIntervalsAndRestarts) {
  auto d = start_daemon();
  ASSERT_TRUE(eventually([&] { return committed(1); })) << "first sight rotates at once";
  advance(std::chrono::hours(24 * 13));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(promotes(), 3) << "not due before 14 days";
  advance(std::chrono::hours(24 * 2));
  if (!eventually([&] { return committed(2); })) {
    auto r = stop(*d);
    FAIL() << "each app is due once after 14 days; daemon said:\n" << r.err;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(promotes(), 6) << "exactly once";
  auto r = stop(*d);
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // A restart neither skips nor doubles.
  auto d2 = start_daemon();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(promotes(), 6);
  advance(std::chrono::hours(24 * 15));
  ASSERT_TRUE(eventually([&] { return committed(3); }));
  EXPECT_EQ(promotes(), 9);
  EXPECT_EQ(stop(*d2).exit_code, 0);
  expect_every_published_pair_authenticates();
}

TEST_F(DaemonE2e, SighupKeepsTheOldConfigWhenBrokenAndAddsARotationWhenValid) {
  auto d = start_daemon();
  ASSERT_TRUE(eventually([&] { return committed(1); }));
  std::ofstream(config_, std::ios::app) << "\n[[rotation]]\nname = \"broken\"\ninterval_days = 0\n";
  ::kill(d->pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto extra = sb_->salesforce().add_app("Extra_App");
  write_config("\n[[rotation]]\nname = \"extra\"\nconnection = \"sandbox\"\napp_id = \"" +
               extra.id + "\"\nsecret_path = \"/salesforce/extra\"\n");
  ::kill(d->pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return promotes() == 4; })) << "the new rotation runs";
  auto r = stop(*d);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("keeping the old one"));
  EXPECT_THAT(r.err, HasSubstr("interval_days"));
  EXPECT_THAT(r.err, HasSubstr("configuration reloaded"));
}

TEST_F(DaemonE2e, SigtermDuringARotationLeavesAStateTheNextStartCompletes) {
  sandbox::Fault slow = sandbox::Fault::delay("sf.promote", 1500, 3);
  sb_->salesforce().inject(slow);
  auto d = start_daemon();
  ASSERT_TRUE(eventually([&] { return sb_->salesforce().request_count("sf.stage") >= 1; }));
  auto r = stop(*d);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Whatever was in flight finished its step or is journaled; the next pass completes it.
  auto once = run({"run", "--once"});
  EXPECT_EQ(once.exit_code, 0) << once.err;
  expect_every_published_pair_authenticates();
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "state" / "journal"));
}

TEST_F(DaemonE2e, FaultBurstsAreRetriedWithBackoffNotHotLoops) {
  // Staging fails with 503 until cleared; the first Infisical list meets a 429 with a wait.
  sb_->salesforce().inject(sandbox::Fault::answer(
      "sf.stage", 503, R"([{"errorCode":"SERVER_UNAVAILABLE","message":"try later"}])", -1));
  sandbox::Fault limited = sandbox::Fault::answer(
      "inf.list", 429,
      R"({"reqId":"req-1","statusCode":429,"error":"RateLimitExceeded","message":"Rate limit exceeded. Please try again in 90 seconds"})",
      1);
  sb_->infisical().inject(limited);
  // Attempts are counted against the agent's (fake) clock, not wall time: each backoff
  // (1, 2, 4 min +-20 %, or the 90 s asked for) ends only when the test moves the clock,
  // so every app gets exactly one attempt per move. A retry that ignored the backoff
  // would push a count past the number of moves.
  auto failures_are = [&](int k) {
    for (int n = 1; n <= 3; ++n) {
      std::ifstream in(dir_ / "state" / "rotations" / ("app-" + std::to_string(n) + ".json"));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("\"consecutive_failures\":" + std::to_string(k) + "}") == std::string::npos) {
        return false;
      }
    }
    return true;
  };
  auto d = start_daemon();
  ASSERT_TRUE(eventually([&] { return failures_are(1); }));
  // One app's first attempt stopped at the 429, before staging.
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 2);
  for (int moves = 1; moves <= 2; ++moves) {
    advance(std::chrono::hours(1));
    ASSERT_TRUE(eventually([&] { return failures_are(moves + 1); })) << "move " << moves;
    EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 2 + 3 * moves) << "move " << moves;
  }
  EXPECT_EQ(sb_->infisical().log().count("inf.list", 429), 1);
  // With the fault gone, one more move completes every rotation.
  sb_->salesforce().clear_faults();
  advance(std::chrono::hours(1));
  const bool done = eventually([&] { return committed(1); });
  auto r = stop(*d);
  ASSERT_TRUE(done) << "completes once the faults clear; daemon said:\n" << r.err;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 2 + 3 * 2 + 3)
      << "one attempt per app per clock move";
  // The failure line itself says what it means and when it is retried.
  EXPECT_THAT(r.err, ::testing::ContainsRegex(
                         "error: \\[app-[0-9]\\] stage: [^\n]*503[^\n]*\\. Credential: nothing "
                         "was staged; the current credential stays valid[^\n]*\\. Next: retrying "
                         "in [0-9]+ (s|min), at [^\n]* \\(attempt 2 of 5\\)\\.\n"));
  EXPECT_THAT(r.err, HasSubstr("(attempt 4 of 5)"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 3);
}

TEST_F(DaemonE2e, PermanentFailureSaysTheCredentialIsSafeAndWaitsForTheNextDay) {
  // Writing at app-2's path needs an approval: the write check before staging finds it, so
  // app-2 is never staged or promoted.
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  auto d = start_daemon();
  ASSERT_TRUE(eventually([&] { return promotes() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(promotes(), 2);
  const int upserts = sb_->infisical().request_count("inf.upsert");
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(sb_->infisical().request_count("inf.upsert"), upserts) << "not retried at once";
  auto r = stop(*d);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, ::testing::ContainsRegex(
                         "error: \\[app-2\\] prove: [^\n]*approval[^\n]*\\. Credential: the "
                         "current credential stays valid; nothing was changed\\. Next: not "
                         "retried soon: this "
                         "error needs a fix; next attempt [0-9]{4}-[0-9]{2}-[0-9]{2} 03:00 UTC "
                         "\\(rotate_at\\), or run `eca-rotator rotate app-2` once fixed\\.\n"));
}

// During a retry series the daemon's plan, `status` and the next-due metric name the same
// instant: all three read the retry the daemon recorded (planned_next).
TEST_F(DaemonE2e, StatusMetricsAndTheDaemonAgreeOnTheNextAttemptDuringARetrySeries) {
  sb_->salesforce().inject(sandbox::Fault::answer(
      "sf.stage", 503, R"([{"errorCode":"SERVER_UNAVAILABLE","message":"try later"}])", -1));
  const auto metrics = dir_ / "eca.prom";
  std::filesystem::create_directories(dir_ / "conf.d");
  std::ofstream(dir_ / "conf.d" / "10-metrics.toml")
      << "[agent]\nmetrics_file = \"" << metrics.string() << "\"\n";
  auto state_of = [&](int n) {
    std::ifstream in(dir_ / "state" / "rotations" / ("app-" + std::to_string(n) + ".json"));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto d = start_daemon();
  ASSERT_TRUE(eventually([&] {
    return state_of(1).find("\"consecutive_failures\":1}") != std::string::npos &&
           state_of(1).find("\"retry_at\":\"\"") == std::string::npos;
  }));
  // The metrics file is rewritten after each attempt; wait for app-1's failure in it.
  std::string m;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(metrics);
    m.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return m.find("eca_rotator_consecutive_failures{rotation=\"app-1\"} 1") != std::string::npos;
  }));
  auto status = run({"status", "--json"});
  auto r = stop(*d);
  ASSERT_EQ(status.exit_code, 0) << status.err;

  // status: the row's next_due.
  const std::string row_start = "{\"rotation\":\"app-1\"";
  const auto row = status.out.find(row_start);
  ASSERT_NE(row, std::string::npos) << status.out;
  const auto field = status.out.find("\"next_due\":\"", row);
  ASSERT_NE(field, std::string::npos) << status.out;
  const auto value = field + std::string("\"next_due\":\"").size();
  const std::string next_due = status.out.substr(value, status.out.find('"', value) - value);
  TimePoint t;
  ASSERT_TRUE(parse_timestamp(next_due, t)) << next_due;

  // The metric: the same instant, to the second.
  const long epoch = static_cast<long>(std::chrono::system_clock::to_time_t(t));
  EXPECT_THAT(m, HasSubstr("eca_rotator_next_due_timestamp_seconds{rotation=\"app-1\"} " +
                           std::to_string(epoch) + ".000\n"))
      << m;

  // The daemon: its failure line said "retrying in ..., at <that minute> UTC".
  std::time_t tt = epoch;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char minute[32];
  std::strftime(minute, sizeof minute, "%Y-%m-%d %H:%M UTC", &tm);
  EXPECT_THAT(r.err,
              ::testing::ContainsRegex("\\[app-1\\] stage: [^\n]*Next: retrying in [^\n]*, at " +
                                       std::string(minute)))
      << r.err;
  // And it is a retry, minutes away on the daemon's clock, not the next day's slot.
  EXPECT_LT(t, sb_->clock().now() + std::chrono::minutes(10));
  EXPECT_GT(t, sb_->clock().now());
}

}  // namespace
}  // namespace eca::e2e

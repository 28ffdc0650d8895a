// Crash safety with the real binary: SIGKILL at every step boundary of the protocol
// (the sandbox applies the step, then kills the agent before it reads the answer),
// then a restart; agents sharing one config; a damaged journal.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using sandbox::Fault;
using ::testing::HasSubstr;

struct CrashPoint {
  const char* endpoint;
  int skip;  // matching requests let through first
  const char* label;
};

std::ostream& operator<<(std::ostream& os, const CrashPoint& p) {
  return os << p.label;
}

class CrashMatrix : public E2eFixture, public ::testing::WithParamInterface<CrashPoint> {};

TEST_P(CrashMatrix, RotationCompletesOnRestartAndNoConsumerLosesItsPair) {
  const CrashPoint point = GetParam();
  const auto gen0 = sb_->target_apps()[0].primary();
  const auto first = run({"rotate", "app-1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto gen1 = *published(1);

  AgentProcess p(ECA_ROTATOR_BIN, with_config({"rotate", "app-1"}),
                 {{"!CREDENTIALS_DIRECTORY", ""}}, /*paused=*/true);
  Fault f = Fault::crash_after(point.endpoint, p.pid());
  f.skip = point.skip;
  if (std::string(point.endpoint).rfind("sf.", 0) == 0) {
    sb_->salesforce().inject(f);
  } else {
    sb_->infisical().inject(f);
  }
  p.release();
  auto crashed = p.wait();
  remember(crashed);
  ASSERT_EQ(crashed.signal, SIGKILL) << "the crash point was not reached: " << crashed.err;
  sb_->salesforce().clear_faults();
  sb_->infisical().clear_faults();

  // While the agent is down, consumers still hold a working pair.
  auto held = published(1);
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(sb_->salesforce().authenticates(held->key, held->secret));

  auto again = run({"rotate", "app-1"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto gen2 = published(1);
  ASSERT_TRUE(gen2.has_value());
  EXPECT_NE(gen2->key, gen1.key);
  EXPECT_EQ(gen2->key, sb_->salesforce().primary(sb_->target_apps()[0].id)->key);
  EXPECT_TRUE(sb_->salesforce().authenticates(gen2->key, gen2->secret));
  EXPECT_TRUE(sb_->salesforce().authenticates(gen1.key, gen1.secret)) << "generation N stays valid";
  EXPECT_FALSE(sb_->salesforce().authenticates(gen0.key, gen0.secret));
  auto slot = sb_->salesforce().staged(sb_->target_apps()[0].id);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->state, sandbox::StagedState::Rotated) << "no staged credential left behind";
  EXPECT_EQ(slot->credential.key, gen1.key);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state" / "journal" / "app-1.rec"));
}

INSTANTIATE_TEST_SUITE_P(
    EveryStep, CrashMatrix,
    ::testing::Values(CrashPoint{"sf.token", 0, "connection_token"},
                      CrashPoint{"sf.consumers", 0, "read_consumers"},
                      CrashPoint{"sf.staged_list", 0, "read_slot"},
                      CrashPoint{"inf.login", 0, "infisical_login"},
                      CrashPoint{"inf.list", 0, "read_infisical"},
                      CrashPoint{"sf.revoke", 0, "revoke_n_minus_1"},
                      CrashPoint{"sf.stage", 0, "stage_applied_answer_lost"},
                      CrashPoint{"sf.token", 1, "verify_new_pair"},
                      CrashPoint{"sf.promote", 0, "promote_applied_answer_lost"},
                      // The upsert answer is the read-back: the crash loses both.
                      CrashPoint{"inf.upsert", 0, "publish_written_before_read_back"},
                      CrashPoint{"sf.consumers", 1, "recheck_primary_before_staging"}),
    [](const ::testing::TestParamInfo<CrashPoint>& point) {
      return std::string(point.param.label);
    });

class CrashE2e : public E2eFixture {};

TEST_F(CrashE2e, DamagedJournalIsRefusedAndNothingIsPromotedFromIt) {
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  const int promotes = sb_->salesforce().request_count("sf.promote");
  std::ofstream(dir_ / "state" / "journal" / "app-1.rec")
      << "ECRJ1\n2\ngarbage that is not a record";
  auto r = run({"rotate", "app-1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("journal record"));
  EXPECT_THAT(r.err, HasSubstr("nothing was promoted"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), promotes);
  auto st = run({"status"});
  EXPECT_THAT(st.out, HasSubstr("pending recovery"));
}

TEST_F(CrashE2e, SecondAgentOnTheSameStateDirRefusesToStart) {
  AgentProcess daemon(ECA_ROTATOR_BIN, with_config({"run"}), {{"!CREDENTIALS_DIRECTORY", ""}});
  // Wait until the daemon holds the lock (it writes its pid into the lock file).
  auto lock = dir_ / "state" / "lock";
  for (int i = 0; i < 100; ++i) {
    std::ifstream in(lock);
    std::string pid;
    if (in >> pid && pid == std::to_string(daemon.pid())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto r = run({"rotate", "app-1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("another eca-rotator (pid " + std::to_string(daemon.pid())));
  ::kill(daemon.pid(), SIGTERM);
  auto d = daemon.wait(30);
  remember(d);
  EXPECT_EQ(d.exit_code, 0) << d.err;
}

TEST_F(CrashE2e, ThreeAgentsSharingAConfigRotateEachAppOnceAndAFourthRotatesNothing) {
  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (int i = 0; i < 3; ++i) {
    write_config("", "state-" + std::to_string(i));
    auto cfg = dir_ / ("agent-" + std::to_string(i) + ".toml");
    std::filesystem::copy_file(config_, cfg);
    agents.push_back(std::make_unique<AgentProcess>(
        ECA_ROTATOR_BIN, std::vector<std::string>{"--config", cfg.string(), "run", "--once"},
        std::map<std::string, std::string>{{"!CREDENTIALS_DIRECTORY", ""}}, true));
  }
  for (auto& a : agents) a->release();
  std::string said;
  for (auto& a : agents) {
    auto r = a->wait();
    remember(r);
    said += r.err;
  }
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 3) << "each of 3 apps promoted once:\n"
                                                              << said;
  // Whoever deferred may retry later; every app is published and authenticates.
  expect_every_published_pair_authenticates();
  // A rebuilt VM: empty state dir, same config.
  write_config("", "state-rebuilt");
  auto r = run({"run", "--once"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 3) << "nothing rotated again";
  auto st = run({"status"});
  EXPECT_THAT(st.out, ::testing::Not(HasSubstr("never")));
  EXPECT_THAT(st.out, HasSubstr("ok"));
}

}  // namespace
}  // namespace eca::e2e

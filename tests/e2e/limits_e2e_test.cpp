// Issue 14, pacing: the agent against the fake Infisical enforcing per-category limits on a
// shortened window (the agent's minute shortened to match, ECA_ROTATOR_TEST_RATE_WINDOW_MS).
#include <chrono>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;

constexpr int kApps = 8;
constexpr int kWindowMs = 2000;

class LimitsE2e : public E2eFixture {
 protected:
  sandbox::SandboxOptions sandbox_options() const override {
    sandbox::SandboxOptions options;
    options.target_apps = kApps;
    options.infisical_rate_limits.secret = 8;
    options.infisical_rate_limits.write = 4;
    options.infisical_rate_limits.window = std::chrono::milliseconds(kWindowMs);
    return options;
  }

  ProcessResult agent(std::vector<std::string> args) {
    ProcessResult r = run_agent(with_config(std::move(args)),
                                {{"!CREDENTIALS_DIRECTORY", ""},
                                 {"ECA_ROTATOR_TEST_RATE_WINDOW_MS", std::to_string(kWindowMs)}});
    remember(r);
    return r;
  }
  ProcessResult rotate_all() { return agent({"rotate", "--all"}); }

  // The config with the server's limits as [infisical] rate_limits.
  void write_config_matching_the_server() {
    write_config();
    std::string t = slurp_config();
    t.replace(t.find("environment = \"prod\""), 20,
              "environment = \"prod\"\nrate_limits = { secret = 8, write = 4 }");
    std::ofstream(config_) << t;
  }
};

TEST_F(LimitsE2e, ABudgetMatchingTheServerRotatesABurstWithoutA429) {
  write_config_matching_the_server();
  auto r = rotate_all();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(sb_->infisical().rate_limited_count(), 0) << r.err;
  expect_every_published_pair_authenticates(true);
  // The wait was said, once.
  EXPECT_THAT(r.err, HasSubstr("to stay within Infisical's rate limits")) << r.err;
}

TEST_F(LimitsE2e, AtATerminalTheProgressLineSaysHowLongRotationsWaitForTheLimits) {
  write_config_matching_the_server();
  auto r = run_agent_in_terminal(with_config({"rotate", "--all"}),
                                 {{"!CREDENTIALS_DIRECTORY", ""},
                                  {"ECA_ROTATOR_TEST_RATE_WINDOW_MS", std::to_string(kWindowMs)}});
  remember(r);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("rotating [0-9]+/8 - waiting [0-9]+ s for "
                                              "Infisical's rate limits"))
      << r.out;
  expect_every_published_pair_authenticates(true);
}

// A steady burst's one recursive listing is paced by the same budget as every request:
// one secret operation, no 429.
TEST_F(LimitsE2e, ASteadyBurstsSharedListingStaysWithinTheBudget) {
  write_config_matching_the_server();
  ASSERT_EQ(rotate_all().exit_code, 0);
  // A new process starts with an empty budget while the server's window still counts the
  // last one's requests (a 429 with or without the listing): start in a fresh window.
  std::this_thread::sleep_for(std::chrono::milliseconds(kWindowMs + 200));
  sb_->infisical().clear_log();
  const int refused_before = sb_->infisical().rate_limited_count();
  auto r = rotate_all();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(sb_->infisical().rate_limited_count(), refused_before) << r.err;
  EXPECT_EQ(sb_->infisical().log().count("inf.list_recursive"), 1) << r.err;
  EXPECT_EQ(sb_->infisical().log().count("inf.list"), 0) << r.err;
  expect_every_published_pair_authenticates(true);
}

// A second `rotate --all` right after the first: the server's window still counts the
// first process's requests, and so does the second process (the state directory carries
// the last window over). Without that, it started with an empty budget and got a 429.
TEST_F(LimitsE2e, ABurstRightAfterAnotherStaysWithinTheServersWindow) {
  write_config_matching_the_server();
  for (int burst = 1; burst <= 3; ++burst) {
    auto r = rotate_all();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(sb_->infisical().rate_limited_count(), 0) << "burst " << burst << ": " << r.err;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ / "state" / "infisical-requests"));
  expect_every_published_pair_authenticates(true);
}

// The daemon holds the state directory's lock itself; it hands its last window over too
// (it did not: a `rotate` right after a daemon pass started with an empty budget).
TEST_F(LimitsE2e, ADaemonPassHandsItsWindowToTheNextProcess) {
  write_config_matching_the_server();
  const auto carried = dir_ / "state" / "infisical-requests";
  auto pass = agent({"run", "--once"});
  ASSERT_EQ(pass.exit_code, 0) << pass.err;
  ASSERT_TRUE(std::filesystem::exists(carried)) << pass.err;
  EXPECT_THAT(slurp(carried), ::testing::ContainsRegex("secret [0-9]+")) << slurp(carried);
  for (int burst = 1; burst <= 2; ++burst) {
    auto r = rotate_all();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(sb_->infisical().rate_limited_count(), 0) << "burst " << burst << ": " << r.err;
  }
  expect_every_published_pair_authenticates(true);
}

TEST_F(LimitsE2e, LimitsTheAgentDoesNotKnowPauseEveryWorkerAndNothingIsLeftUnpublished) {
  write_config();  // rate_limits: none (a loopback, self-hosted URL)
  auto r = rotate_all();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(sb_->infisical().rate_limited_count(), 0);
  expect_every_published_pair_authenticates(true);
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

// Issue 14: a first burst under one new parent, against the fake whose folder creation
// races like the real server's (folder_race_window): every folder exists exactly once.
class FolderBurstE2e : public E2eFixture {
 protected:
  sandbox::SandboxOptions sandbox_options() const override {
    sandbox::SandboxOptions options;
    options.target_apps = 8;
    return options;
  }
};

TEST_F(FolderBurstE2e, AFirstBurstCreatesEachFolderExactlyOnce) {
  write_config();  // app-N at /salesforce/app-N, concurrency 4; /salesforce does not exist
  ASSERT_FALSE(sb_->infisical().folder_exists(sb_->project_id(), "prod", "/salesforce"));
  auto r = run({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sb_->infisical().folder_copies(sb_->project_id(), "prod", "/salesforce"), 1) << r.err;
  for (int n = 1; n <= 8; ++n) {
    const std::string path = "/salesforce/app-" + std::to_string(n);
    EXPECT_EQ(sb_->infisical().folder_copies(sb_->project_id(), "prod", path), 1) << path;
    EXPECT_TRUE(published(n).has_value()) << path;
  }
  // A second burst finds them all: one listing, no create.
  sb_->infisical().clear_log();
  ASSERT_EQ(run({"rotate", "--all"}).exit_code, 0);
  EXPECT_EQ(sb_->infisical().log().count("inf.folder_create"), 0);
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

// Fewer Infisical requests: a burst under one parent lists its secrets once, recursively,
// instead of once per rotation (each rotation that agrees with it skips its own list).
class SharedListingE2e : public E2eFixture {
 protected:
  sandbox::SandboxOptions sandbox_options() const override {
    sandbox::SandboxOptions options;
    options.target_apps = 6;
    return options;
  }
};

TEST_F(SharedListingE2e, ABurstUnderOneParentListsTheSecretsOnce) {
  write_config();  // app-N at /salesforce/app-N
  ASSERT_EQ(run({"rotate", "--all"}).exit_code, 0);
  sb_->infisical().clear_log();
  auto r = run({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sb_->infisical().log().count("inf.list_recursive"), 1) << r.err;
  EXPECT_EQ(sb_->infisical().log().count("inf.list"), 0) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("served the first look of 6 of 6 rotations")) << r.err;
  expect_every_published_pair_authenticates(true);
  // One rotation alone keeps its own list.
  sb_->infisical().clear_log();
  ASSERT_EQ(run({"rotate", "app-3"}).exit_code, 0);
  EXPECT_EQ(sb_->infisical().log().count("inf.list_recursive"), 0);
  EXPECT_EQ(sb_->infisical().log().count("inf.list"), 1);
}

}  // namespace
}  // namespace eca::e2e

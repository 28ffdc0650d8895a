// The real binary against the sandbox: what an operator running `eca-rotator`
// sees, and what ends up in the fake org and the fake Infisical.
#include <fstream>

#include "crypto/envelope.h"
#include "crypto/fingerprint.h"
#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;

class RotateE2e : public E2eFixture {};

TEST_F(RotateE2e, FirstRotationPublishesEachPairSealed) {
  std::vector<sandbox::Credential> original;
  for (const auto& app : sb_->target_apps()) original.push_back(app.primary());
  auto r = run({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("app-1"));
  EXPECT_THAT(r.out, HasSubstr("rotated"));
  for (int n = 1; n <= 3; ++n) {
    const auto& app = sb_->target_apps()[static_cast<std::size_t>(n - 1)];
    auto pub = published(n);
    ASSERT_TRUE(pub.has_value()) << "app-" << n;
    EXPECT_TRUE(sb_->salesforce().authenticates(pub->key, pub->secret));
    EXPECT_EQ(pub->key, sb_->salesforce().primary(app.id)->key);
    EXPECT_NE(pub->key, original[static_cast<std::size_t>(n - 1)].key);
    // Stored values are envelopes: the fake server never saw the credential.
    auto raw =
        sb_->infisical().secret(sb_->project_id(), "prod", "/salesforce/app-" + std::to_string(n),
                                sandbox::Sandbox::kSecretName);
    EXPECT_TRUE(looks_like_envelope(raw->value));
    EXPECT_EQ(raw->value.find(pub->secret), std::string::npos);
    EXPECT_EQ(raw->metadata["eca-rotator.fingerprint"], fingerprint(pub->key));
  }
}

TEST_F(RotateE2e, SecondRotationRevokesNMinus1KeepsNPublishesNPlus1) {
  const auto gen0 = sb_->target_apps()[0].primary();
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  const auto gen1 = *published(1);
  auto r = run({"rotate", "app-1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto gen2 = *published(1);
  EXPECT_FALSE(sb_->salesforce().authenticates(gen0.key, gen0.secret));
  EXPECT_TRUE(sb_->salesforce().authenticates(gen1.key, gen1.secret));
  EXPECT_TRUE(sb_->salesforce().authenticates(gen2.key, gen2.secret));
  EXPECT_NE(gen1.key, gen2.key);
  EXPECT_FALSE(published(2).has_value()) << "only the named rotation ran";
}

TEST_F(RotateE2e, OpenTurnsAnEnvelopeBackIntoThePair) {
  ASSERT_EQ(run({"rotate", "app-2"}).exit_code, 0);
  auto raw = sb_->infisical().secret(sb_->project_id(), "prod", "/salesforce/app-2",
                                     sandbox::Sandbox::kKeyName);
  ASSERT_TRUE(raw.has_value());
  auto r = run_agent({"open", "--private-key-file", (dir_ / "recipient.key").string(), raw->value});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, sb_->salesforce().primary(sb_->target_apps()[1].id)->key);
  // Not remembered for the canary: printing the value is this command's job.
}

TEST_F(RotateE2e, StatusShowsEachRotation) {
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  auto r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ROTATION"));
  EXPECT_THAT(r.out, HasSubstr("app-1"));
  EXPECT_THAT(r.out, HasSubstr("(manual)"));
  EXPECT_THAT(r.out, HasSubstr(short_fingerprint(fingerprint(published(1)->key))));
  auto j = run({"status", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  EXPECT_THAT(j.out, HasSubstr("\"rotation\":\"app-3\""));
}

TEST_F(RotateE2e, RefusesTheConnectionsOwnApp) {
  write_config("\n[[rotation]]\nname = \"self\"\nconnection = \"sandbox\"\napp_id = \"" +
               sb_->connection_app().id + "\"\nsecret_path = \"/salesforce/self\"\n");
  auto r = run({"rotate", "self"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("refusing to rotate"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 0);
  auto v = run({"validate", "--online"});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_THAT(v.out, HasSubstr("refusing to rotate"));
}

TEST_F(RotateE2e, ValidateOnlinePassesForTheSandbox) {
  auto v = run({"validate", "--online"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("rotation app-3"));
  EXPECT_THAT(v.out, HasSubstr("server generation: v4"));
}

// The same operator-visible runs against an Infisical that has only the deprecated
// routes (v3 raw secrets, v1 folders), like the recorded mid-2025 build.
class RotateE2eLegacyInfisical : public E2eFixture {
 protected:
  sandbox::SandboxOptions sandbox_options() const override {
    sandbox::SandboxOptions options;
    options.infisical_legacy_routes_only = true;
    return options;
  }
};

TEST_F(RotateE2eLegacyInfisical, FirstRotationPublishesEachPair) {
  auto r = run({"rotate", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_every_published_pair_authenticates(/*current=*/true);
  // One process, one probe of the current routes, whatever the number of rotations.
  EXPECT_EQ(sb_->infisical().route_not_found_count(), 1);
}

TEST_F(RotateE2eLegacyInfisical, ValidateAndStatusNameTheLegacyGeneration) {
  auto v = run({"validate", "--online"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("server generation: v3 (legacy routes)"));
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  auto s = run({"status", "--online"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_THAT(s.out, HasSubstr("infisical server generation: v3 (legacy routes)"));
}

TEST_F(RotateE2e, ExitCode1WhenARotationFailsAndOthersStillRun) {
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  auto r = run({"rotate", "--all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("approval"));
  // The failure line says what it means for the credential and what to do: the approval
  // policy is found by the write check before staging, so nothing changed at Salesforce.
  EXPECT_THAT(r.err, ::testing::ContainsRegex(
                         "error: \\[app-2\\] prove: [^\n]*approval[^\n]*\\. Credential: the "
                         "current credential stays valid; nothing was changed\\. "
                         "Next: fix the cause above, then run `eca-rotator rotate app-2` "
                         "again\\.\n"));
  EXPECT_TRUE(published(1).has_value());
  EXPECT_TRUE(published(3).has_value());
  EXPECT_FALSE(published(2).has_value());
}

TEST_F(RotateE2e, RunOnceFailureSaysTheNextPassTriesAgain) {
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  auto r = run({"run", "--once"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Credential: the current credential stays valid; nothing was "
                               "changed"));
  EXPECT_THAT(r.err, HasSubstr("Next: fix the cause above; the next `eca-rotator run --once` "
                               "tries again, or run `eca-rotator rotate app-2`.\n"));
}

// Under cron, systemd or a CI log stderr is not a terminal: no progress line, not even
// with a TERM that could draw one.
TEST_F(RotateE2e, NoProgressLineWhenStderrIsNotATerminal) {
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  auto r = run_agent(with_config({"rotate", "--all"}),
                     {{"!CREDENTIALS_DIRECTORY", ""}, {"TERM", "xterm-256color"}});
  remember(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  for (const std::string* s : {&r.err, &r.out}) {
    EXPECT_EQ(s->find('\r'), std::string::npos) << *s;
    EXPECT_EQ(s->find('\033'), std::string::npos) << *s;
    EXPECT_THAT(*s, ::testing::Not(HasSubstr("rotating ")));
  }
}

// On a terminal: one live line, cleared before every log line and at the end.
TEST_F(RotateE2e, ProgressLineOnATerminalNeverSharesALineWithTheLog) {
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  auto r = run_agent_in_terminal(with_config({"rotate", "--all"}),
                                 {{"!CREDENTIALS_DIRECTORY", ""}, {"TERM", "xterm"}});
  remember(r);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const std::string clear = "\r\033[K";
  EXPECT_THAT(r.out, HasSubstr(clear + "rotating 0/3 - current: app-")) << "drawn at the start";
  EXPECT_THAT(r.out, HasSubstr("(1 failed)")) << "redrawn when a rotation fails";
  // After the last drawing of the line, it is cleared before anything else appears.
  const std::size_t last = r.out.rfind("rotating ");
  ASSERT_NE(last, std::string::npos);
  const std::size_t cleared = r.out.find(clear, last);
  ASSERT_NE(cleared, std::string::npos) << r.out.substr(last);
  EXPECT_EQ(r.out.substr(last, cleared - last).find('\n'), std::string::npos);
  // Every log line starts at the beginning of a line (after a newline or a clear).
  int log_lines = 0;
  for (const char* level : {"info: ", "warning: ", "error: "}) {
    for (std::size_t p = r.out.find(level); p != std::string::npos; p = r.out.find(level, p + 1)) {
      if (p > 0 && r.out[p - 1] != '\n' && r.out[p - 1] != 'K') continue;  // inside a message
      ++log_lines;
      const bool at_start =
          p == 0 || r.out[p - 1] == '\n' ||
          (p >= clear.size() && r.out.compare(p - clear.size(), clear.size(), clear) == 0);
      EXPECT_TRUE(at_start) << r.out.substr(p > 40 ? p - 40 : 0, 80);
    }
  }
  EXPECT_GT(log_lines, 8);  // app-2 stops at the write check, before staging
  // Text that is neither the progress line nor a log line never follows the line: every
  // "rotating" drawing is directly preceded by a clear.
  for (std::size_t p = r.out.find("rotating "); p != std::string::npos;
       p = r.out.find("rotating ", p + 1)) {
    ASSERT_GE(p, clear.size());
    EXPECT_EQ(r.out.compare(p - clear.size(), clear.size(), clear), 0)
        << r.out.substr(p > 40 ? p - 40 : 0, 80);
  }
  EXPECT_THAT(r.out, HasSubstr("Next: fix the cause above, then run `eca-rotator rotate app-2`"));
}

TEST_F(RotateE2e, RunOnceOnATerminalShowsTheLineUnlessToldNot) {
  const std::map<std::string, std::string> env{{"!CREDENTIALS_DIRECTORY", ""}, {"TERM", "xterm"}};
  auto quiet = run_agent_in_terminal(with_config({"run", "--once", "--no-progress"}), env);
  remember(quiet);
  EXPECT_EQ(quiet.exit_code, 0) << quiet.out;
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 3);
  EXPECT_EQ(quiet.out.find('\033'), std::string::npos) << quiet.out;
  // A second agent on the same config (empty state directory): a pass over all three,
  // each found not due from the Infisical metadata.
  write_config("", "state-2");
  auto r = run_agent_in_terminal(with_config({"run", "--once"}), env);
  remember(r);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::string clear = "\r\033[K";
  EXPECT_THAT(r.out, HasSubstr(clear + "rotating 0/3 - current: app-"));
  EXPECT_THAT(r.out, HasSubstr(clear + "rotating 3/3"));
  const std::size_t last = r.out.rfind("rotating ");
  EXPECT_NE(r.out.find(clear, last), std::string::npos) << "cleared at the end";
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 3);
}

TEST_F(RotateE2e, UnknownRotationNameIsAUsageError) {
  auto r = run({"rotate", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no rotation named \"nope\""));
  EXPECT_THAT(r.err, HasSubstr("app-1"));
}

TEST_F(RotateE2e, RevokePreviousDeletesTheRotatedCredential) {
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  const auto gen0 = sb_->target_apps()[0].primary();
  EXPECT_TRUE(sb_->salesforce().authenticates(gen0.key, gen0.secret));
  auto no = run({"revoke-previous", "app-1"});
  EXPECT_EQ(no.exit_code, 2) << "needs --yes without a terminal";
  auto r = run({"revoke-previous", "app-1", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(sb_->salesforce().authenticates(gen0.key, gen0.secret));
  auto pub = published(1);
  EXPECT_TRUE(sb_->salesforce().authenticates(pub->key, pub->secret));
}

// Every bad config in tests/data/bad-configs fails `validate` with exit code 2 and its
// expected message, without contacting anything.
TEST_F(RotateE2e, BadConfigsAreRefusedWithTheirMessage) {
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(ECA_TEST_DATA_DIR "/bad-configs")) {
    auto p = e.path();
    std::filesystem::path cfg;
    if (e.is_directory()) {
      cfg = p / "agent.toml";
    } else if (p.extension() == ".toml") {
      cfg = p;
    } else {
      continue;
    }
    auto expect_file = p;
    expect_file.replace_extension(".expect");
    if (e.is_directory()) expect_file = p.string() + ".expect";
    std::ifstream in(expect_file);
    std::vector<std::string> expected;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) expected.push_back(line);
    }
    auto r =
        run_agent({"--config", cfg.string(), "validate"},
                  {{"!CREDENTIALS_DIRECTORY", ""}, {"ECA_TEST_SECRET", "s3cr3t-canary-value"}});
    remember(r);
    EXPECT_EQ(r.exit_code, 2) << p;
    for (const auto& x : expected) EXPECT_THAT(r.err, HasSubstr(x)) << p;
    ++checked;
  }
  EXPECT_GT(checked, 20);
  EXPECT_EQ(sb_->salesforce().log().count("*") + sb_->infisical().log().count("*"), 0)
      << "nothing is contacted for a bad config";
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

TEST_F(RotateE2e, AppsListsEveryEcaWithConsumersAndASnippet) {
  for (int i = 0; i < 120; ++i) sb_->salesforce().add_app("Extra_" + std::to_string(i));
  auto r = run({"apps", "--connection", "sandbox"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("Extra_0 "));
  EXPECT_THAT(r.out, ::testing::HasSubstr("Extra_119"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("(this connection's own app)"));
  // 124 apps in pages of 50: three pages, then the empty page the quirky nextPageUrl leads to.
  EXPECT_EQ(sb_->salesforce().request_count("sf.usage"), 4);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 127)
      << "header + 124 apps (no repeats), then a blank line and the org's daily API budget";
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "\n\nsalesforce org sandbox: daily API requests [0-9]+ of [0-9]+ left "
                         "\\(reserve 10% = [0-9]+\\)\n$"));
  auto s = run({"apps", "--connection", "sandbox", "--snippet"});
  ASSERT_EQ(s.exit_code, 0);
  EXPECT_THAT(s.out, ::testing::HasSubstr("[[rotation]]\nname = \"extra-119\""));
  EXPECT_THAT(s.out, ::testing::HasSubstr("app_id = \"" + sb_->target_apps()[0].id + "\""));
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

// validate --online names the problem per rotation for each kind of breakage.
TEST_F(RotateE2e, ValidateOnlineNamesEachProblem) {
  struct Case {
    std::string what;
    std::function<void()> breakit;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"wrong Infisical secret", [&] { std::ofstream(dir_ / "inf-secret") << "not-the-secret"; },
       "check [infisical.auth] client_id and client_secret"},
      {"unknown project",
       [&] {
         write_config();
         std::string t = slurp_config();
         t.replace(t.find(sb_->project_id()), sb_->project_id().size(), "no-such-project");
         std::ofstream(config_) << t;
       },
       "no-such-project"},
      {"unknown environment (a secrets list answers it with no secrets)",
       [&] {
         write_config();
         std::string t = slurp_config();
         t.replace(t.find("environment = \"prod\""), 20, "environment = \"produ\"");
         std::ofstream(config_) << t;
       },
       "check [infisical] environment"},
      {"missing app",
       [&] {
         write_config(
             "\n[[rotation]]\nname = \"ghost\"\nconnection = \"sandbox\"\n"
             "app_id = \"0xI000000000000AAA\"\nsecret_path = \"/salesforce/ghost\"\n");
       },
       "rotation ghost"},
      {"REST access disabled", [&] { sb_->salesforce().set_rest_secret_access(false); },
       "Allow access to External Client App consumer secrets via REST API"},
  };
  for (auto& c : cases) {
    std::ofstream(dir_ / "inf-secret") << sb_->infisical_client_secret();
    write_config();
    sb_->salesforce().set_rest_secret_access(true);
    c.breakit();
    auto v = run({"validate", "--online"});
    EXPECT_EQ(v.exit_code, 1) << c.what << "\n" << v.out << v.err;
    EXPECT_THAT(v.out, HasSubstr(c.expect)) << c.what << "\n" << v.out;
  }
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

TEST_F(RotateE2e, StatusOnlineTellsWhetherThePublishedPairAuthenticates) {
  ASSERT_EQ(run({"rotate", "app-1", "app-2"}).exit_code, 0);
  // app-2: someone rotates by hand and revokes everything, leaving Infisical stale.
  const auto& app2 = sb_->target_apps()[1];
  ASSERT_TRUE(sb_->salesforce().revoke_staged_by_hand(app2.id));
  ASSERT_TRUE(sb_->salesforce().stage_by_hand(app2.id).has_value());
  ASSERT_TRUE(sb_->salesforce().promote_by_hand(app2.id));
  ASSERT_TRUE(sb_->salesforce().revoke_staged_by_hand(app2.id));
  sb_->clear_violations();  // the hand-made breakage is the point of this test
  auto r = run({"status", "--online"});
  // A problem row makes the exit code say so, for cron and monitoring.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("at least one rotation has a problem"));
  EXPECT_THAT(r.out, HasSubstr("published pair is the primary: authenticates"));
  EXPECT_THAT(r.out, HasSubstr("PROBLEM: the published pair is unknown to Salesforce"));
  EXPECT_THAT(r.out, HasSubstr("nothing published by eca-rotator"));
  auto j = run({"status", "--online", "--json"});
  EXPECT_EQ(j.exit_code, 3) << j.err;
  EXPECT_THAT(j.out,
              HasSubstr("\"online\":{\"result\":\"unknown-to-salesforce\",\"problem\":true"));
  EXPECT_THAT(j.out, HasSubstr("\"online\":{\"result\":\"primary\",\"problem\":false"));
  // Once Infisical holds a pair Salesforce knows again, the same check passes.
  ASSERT_EQ(run({"rotate", "app-2"}).exit_code, 0);
  auto ok = run({"status", "--online"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, ::testing::Not(HasSubstr("PROBLEM")));
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

// A refused revoke-previous is the operator's command failing, not the rotation: it says
// why and exits 1, but status, the metrics and /healthz stay as they were.
TEST_F(RotateE2e, RevokePreviousWithNothingToRevokeIsRefusedWithoutMarkingTheRotationFailing) {
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  ASSERT_EQ(run({"revoke-previous", "app-1", "--yes"}).exit_code, 0);
  auto again = run({"revoke-previous", "app-1", "--yes"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("there is no previous (Rotated) credential to revoke"));
  auto st = run({"status"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_THAT(st.out, ::testing::Not(HasSubstr("failing")));
  EXPECT_THAT(st.out, ::testing::Not(HasSubstr("no previous")));
  auto j = run({"status", "--json"});
  EXPECT_THAT(j.out, HasSubstr("{\"rotation\":\"app-1\""));
  EXPECT_THAT(j.out, ::testing::Not(HasSubstr("\"state\":\"failing\"")));
  EXPECT_THAT(j.out, ::testing::Not(HasSubstr("\"consecutive_failures\":1")));
  // What /healthz answers comes from the same records: the metrics file of the next pass
  // (which rotates app-2 and app-3) shows app-1 healthy.
  const auto metrics = dir_ / "eca.prom";
  std::filesystem::create_directories(dir_ / "conf.d");
  std::ofstream(dir_ / "conf.d" / "10-ops.toml")
      << "[agent]\nmetrics_file = \"" << metrics.string() << "\"\n";
  ASSERT_EQ(run({"run", "--once"}).exit_code, 0);
  std::ifstream in(metrics);
  const std::string m((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(m, HasSubstr("eca_rotator_consecutive_failures{rotation=\"app-1\"} 0"));
  EXPECT_THAT(m, HasSubstr("eca_rotator_healthy 1"));
}

// status --json: machine fields, not the table's display strings.
TEST_F(RotateE2e, StatusJsonHasTypedFields) {
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  auto j = run({"status", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const std::string fp = fingerprint(published(1)->key);
  EXPECT_THAT(j.out,
              ::testing::ContainsRegex(
                  "\\{\"rotation\":\"app-1\",\"app_id\":\"" + sb_->target_apps()[0].id +
                  "\",\"key_fingerprint\":\"" + fp +
                  "\",\"generation\":1,\"last_rotated\":\"20[0-9][0-9]-[01][0-9]-[0-3][0-9]T"
                  "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z\",\"manual\":true,\"last_attempt\":"
                  "(null|\"[^\"]+Z\"),\"auto_rotation\":true,\"next_due\":\"[^\"]+T[^\"]+Z\","
                  "\"state\":\"ok\",\"consecutive_failures\":0,\"last_error\":null,"
                  "\"connection_auth\":\"client_credentials\"\\}"));
  // Never rotated: unknowns are null, not "-" or "never".
  EXPECT_THAT(j.out, HasSubstr("{\"rotation\":\"app-2\",\"app_id\":\"" + sb_->target_apps()[1].id +
                               "\",\"key_fingerprint\":null,\"generation\":null,"
                               "\"last_rotated\":null,\"manual\":null"));
  EXPECT_THAT(j.out, ::testing::Not(HasSubstr("UTC")));
  EXPECT_THAT(j.out, ::testing::Not(HasSubstr("(manual)")));
  EXPECT_THAT(j.out, ::testing::Not(HasSubstr("\"-\"")));
  // The table keeps its display strings.
  auto t = run({"status"});
  EXPECT_THAT(t.out, HasSubstr("(manual)"));
}

// Another agent mid-rotation (a fresh Active staged credential the journal does not know):
// rotate backs off with its own exit code, neither success nor failure.
TEST_F(RotateE2e, DeferredRotationExitsWithTempfail) {
  const auto& app1 = sb_->target_apps()[0];
  ASSERT_EQ(run({"rotate", "app-1"}).exit_code, 0);
  ASSERT_TRUE(sb_->salesforce().revoke_staged_by_hand(app1.id));
  ASSERT_TRUE(sb_->salesforce().stage_by_hand(app1.id).has_value());
  sb_->clear_violations();  // the hand-staged credential is the point of this test
  auto r = run({"rotate", "app-1"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("deferred"));
  EXPECT_THAT(r.err, HasSubstr("another agent is mid-rotation"));
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 1) << "only the first rotation";
  // A failure elsewhere wins: exit 1 tells cron something needs a human.
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  auto both = run({"rotate", "app-1", "app-2"});
  EXPECT_EQ(both.exit_code, 1) << both.out << both.err;
}

// The cron form: a `run --once` pass that rotates what is due and defers one rotation to
// another agent exits 75 too, so cron can tell "try again" from "done" and "broken".
TEST_F(RotateE2e, RunOnceExitsWithTempfailWhenItsPassDeferred) {
  const auto& app2 = sb_->target_apps()[1];
  ASSERT_TRUE(sb_->salesforce().stage_by_hand(app2.id).has_value());
  sb_->clear_violations();  // the hand-staged credential is the point of this test
  auto once = run({"run", "--once", "--no-progress"});
  EXPECT_EQ(once.exit_code, 75) << once.out << once.err;
  EXPECT_THAT(once.err, HasSubstr("[app-2] schedule: deferred to the agent mid-rotation; the next "
                                  "`eca-rotator run --once` checks again"));
  const long others = static_cast<long>(sb_->target_apps().size()) - 1;
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), others) << "every other app rotated";
  // Once the other agent is done (here: its staged credential gone), the pass is clean.
  ASSERT_TRUE(sb_->salesforce().revoke_staged_by_hand(app2.id));
  auto again = run({"run", "--once", "--no-progress"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), others + 1);
}

// apps --snippet: nothing every rotate would refuse, and a visible consumer choice.
TEST_F(RotateE2e, AppsSnippetLeavesOutTheOwnAppAndNamesConsumerChoices) {
  const auto multi = sb_->salesforce().add_app("Multi_Consumer", "Multi", 2);
  auto s = run({"apps", "--connection", "sandbox", "--snippet"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto& own = sb_->connection_app();
  EXPECT_THAT(s.out, ::testing::Not(HasSubstr("app_id = \"" + own.id + "\"")));
  EXPECT_THAT(s.out, HasSubstr("# " + own.developer_name + " (" + own.id +
                               ") is the app connection \"sandbox\" authenticates with"));
  EXPECT_THAT(s.out, HasSubstr("app_id = \"" + multi.id + "\"\n# this app has 2 consumers"));
  EXPECT_THAT(s.out, HasSubstr("#   " + multi.consumers[0].id));
  EXPECT_THAT(s.out, HasSubstr("#   " + multi.consumers[1].id));
  EXPECT_THAT(s.out, HasSubstr("consumer_id = \"" + multi.consumers[0].id + "\"\n"));
  // Single-consumer apps need no choice.
  const std::string one = "app_id = \"" + sb_->target_apps()[0].id + "\"\n";
  EXPECT_THAT(s.out, HasSubstr(one + "interval_days = 30\n"));
  // The snippet is valid config: in place of the sandbox config's own rotations, it validates.
  std::string cfg = slurp_config();
  cfg = cfg.substr(0, cfg.find("[[rotation]]")) + s.out;
  std::ofstream(dir_ / "snippet.toml") << cfg;
  std::filesystem::permissions(dir_ / "snippet.toml", std::filesystem::perms::owner_read |
                                                          std::filesystem::perms::owner_write);
  auto v = run_agent({"--config", (dir_ / "snippet.toml").string(), "validate"},
                     {{"!CREDENTIALS_DIRECTORY", ""}});
  remember(v);
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_THAT(v.out, HasSubstr("4 rotations")) << "three targets and Multi_Consumer";
}

}  // namespace
}  // namespace eca::e2e

namespace eca::e2e {
namespace {

// Issue 14: a publish path Infisical would refuse is found before Salesforce is touched.
// Each case is a refusal the real server gives only on a write (or a 200-empty list): the
// rotation fails, Salesforce sees no stage and no promote, and the error names what to fix.
TEST_F(RotateE2e, AnUnprovenPublishPathChangesNothingAtSalesforce) {
  struct Case {
    std::string what;
    std::function<void()> breakit;
    std::vector<std::string> expect;  // in the error output
    std::vector<std::string> extra_args = {};
  };
  const std::string project = sb_->project_id();
  const std::string client = sb_->infisical_client_id();
  std::vector<Case> cases = {
      {"unknown environment",
       [&] {
         std::string t = slurp_config();
         t.replace(t.find("environment = \"prod\""), 20, "environment = \"produ\"");
         std::ofstream(config_) << t;
       },
       {"check [infisical] environment", "\"produ\"", project}},
      {"unknown project",
       [&] {
         std::string t = slurp_config();
         t.replace(t.find(project), project.size(), "no-such-project");
         std::ofstream(config_) << t;
       },
       {"check [infisical] project_id", "no-such-project"}},
      {"viewer identity",
       [&] {
         sandbox::ProjectRole viewer;
         viewer.kind = sandbox::ProjectRole::Kind::Viewer;
         sb_->infisical().add_member(project, client, viewer);
       },
       {"give the machine identity write access", "\"prod\"", "/salesforce/app-1"}},
      {"role scoped to another path",
       [&] {
         sandbox::ProjectRole scoped;
         scoped.kind = sandbox::ProjectRole::Kind::Custom;
         scoped.rules = {{"prod", "/other/**"}};
         sb_->infisical().add_member(project, client, scoped);
       },
       {"give the machine identity write access", "/salesforce/app-1"}},
      {"approval policy",
       [&] {
         // The folder exists (a first rotation would create it) and writes there need approval.
         sb_->infisical().put_folder(project, "prod", "/salesforce/app-1");
         sb_->infisical().set_approval_required(project, "prod", "/salesforce/app-1", true);
       },
       {"approval", "/salesforce/app-1"}},
      {"exhausted budget",
       [&] {
         // Three secret operations a minute: inspecting and proving spend two, so the
         // publish's two cannot be set aside now, and --max-wait 0 forbids waiting.
         std::string t = slurp_config();
         t.replace(t.find("environment = \"prod\""), 20,
                   "environment = \"prod\"\nrate_limits = { secret = 3 }");
         std::ofstream(config_) << t;
       },
       {"check [infisical] rate_limits", "--max-wait", "Infisical's rate limits"},
       {"--max-wait", "0"}},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    write_config();
    sb_->infisical().add_member(project, client, {});  // admin again
    sb_->infisical().set_approval_required(project, "prod", "/salesforce/app-1", false);
    sb_->salesforce().clear_log();
    const auto before = sb_->salesforce().primary(sb_->target_apps()[0].id)->key;
    c.breakit();
    std::vector<std::string> args = {"rotate", "app-1"};
    args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(sb_->salesforce().request_count("sf.stage"), 0) << r.err;
    EXPECT_EQ(sb_->salesforce().request_count("sf.promote"), 0) << r.err;
    EXPECT_EQ(sb_->salesforce().primary(sb_->target_apps()[0].id)->key, before);
    EXPECT_THAT(r.err, HasSubstr("nothing was changed")) << r.err;
    for (const auto& e : c.expect) EXPECT_THAT(r.err, HasSubstr(e)) << r.err;
  }
  // And `validate --online` says the same for the environment, instead of "readable".
  write_config();
  sb_->infisical().add_member(project, client, {});
  sb_->infisical().set_approval_required(project, "prod", "/salesforce/app-1", false);
  std::string t = slurp_config();
  t.replace(t.find("environment = \"prod\""), 20, "environment = \"produ\"");
  std::ofstream(config_) << t;
  auto v = run({"validate", "--online"});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("check [infisical] environment")) << v.out;
  EXPECT_THAT(v.out, ::testing::Not(HasSubstr("readable"))) << v.out;
  // With the path proven, the rotation goes through, and the check secret sits next to the
  // pair with its fixed, non-secret value.
  write_config();
  auto ok = run({"rotate", "app-1"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto check =
      sb_->infisical().secret(project, "prod", "/salesforce/app-1", "ECA_ROTATOR_WRITE_CHECK");
  ASSERT_TRUE(check.has_value());
  EXPECT_THAT(check->value, HasSubstr("not a credential"));
}

}  // namespace
}  // namespace eca::e2e

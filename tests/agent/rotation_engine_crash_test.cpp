// The rotation protocol against an in-memory world, with the agent process killed at every
// operation that touches durable state (Salesforce, Infisical, the journal, the records),
// both before the effect lands and after it landed with the answer lost. After each crash a
// fresh engine restarts on what survived; the invariants of DESIGN.md §3 must hold at the
// crash and once the restart has run to completion.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>

#include "agent/rotation_engine.h"
#include "crypto/fingerprint.h"
#include "tests/agent/engine_world.h"

namespace eca::enginetest {
namespace {

// One agent process: an engine over adapters to the durable world.
class Agent {
 public:
  Agent(World& w, const Config& config, Logger& log)
      : sf_(w), infisical_(w), journal_(w), records_(w), clock_(w) {
    EngineDeps d;
    d.config = &config;
    d.infisical = &infisical_;
    d.salesforce["acme"] = &sf_;
    d.journal = &journal_;
    d.state = &records_;
    d.clock = &clock_;
    d.log = &log;
    d.verify_attempts = 1;
    engine_ = std::make_unique<RotationEngine>(std::move(d));
  }
  RotationOutcome scheduled_run(const RotationSettings& r) {
    return engine_->rotate(r, false, true);
  }
  Result<Survey> survey(const RotationSettings& r) { return engine_->survey(r); }

 private:
  SfFake sf_;
  InfisicalFake infisical_;
  JournalFake journal_;
  RecordsFake records_;
  WorldClock clock_;
  std::unique_ptr<RotationEngine> engine_;
};

// What the world looked like before the rotation under test.
struct Before {
  Pair in_use;                  // the pair consumers hold (Infisical's, or the original)
  std::set<std::string> valid;  // keys valid at Salesforce
  long generation = 0;
  int promotes = 0;
};

Before before(const World& w) {
  Before b;
  b.in_use = w.held().value_or(w.primary);
  b.valid = w.valid_keys();
  auto md = w.held_metadata();
  b.generation = md.count(meta::kGeneration) ? std::stol(md[meta::kGeneration]) : 0;
  b.promotes = w.promotes;
  return b;
}

const char* to_string(CrashMode m) {
  return m == CrashMode::BeforeEffect ? "before its effect" : "after its effect, answer lost";
}

struct Coverage {
  int operations = 0;      // durable operations of one uninterrupted run
  int external_calls = 0;  // of which Salesforce and Infisical requests
  int crash_points = 0;
};

class EngineCrashTest : public ::testing::Test {
 protected:
  EngineCrashTest() {
    RotationSettings r;
    r.name = "billing";
    r.connection = "acme";
    r.app_id = World().app_id;
    r.secret_path = World().secret_path;
    r.interval_days = 14;
    r.rotate_at = TimeOfDay{3, 0};
    config_.agent.timezone = "UTC";
    config_.rotations.push_back(r);
  }
  // Runs a rotation that dies after the promote, before the publish reaches Infisical;
  // the world comes back up without the crash armed.
  void crash_between_promote_and_publish(World& w) {
    w.crash_before("inf.upsert");
    EXPECT_THROW(run(w), Crash);
    w.no_crash();
  }
  ~EngineCrashTest() override { std::fclose(devnull_); }

  const RotationSettings& rotation() const { return config_.rotations.front(); }
  RotationOutcome run(World& w) { return Agent(w, config_, log_).scheduled_run(rotation()); }

  // Scenario setups: the world just before the rotation under test.
  static void first_rotation(World&) {}
  void steady_rotation(World& w) {
    ASSERT_EQ(run(w).result, RotationResult::Rotated);
    w.now += std::chrono::hours(24 * 15);  // due again
  }
  void journaled_rotation(World& w) {
    steady_rotation(w);
    // The run dies right before verifying its new pair: it is staged and journaled.
    w.crash_before("sf.token");
    EXPECT_THROW(run(w), Crash);
    w.no_crash();
    ASSERT_EQ(w.journal.count("billing"), 1u);
  }

  // Right after the crash: what survived is safe to leave as it is.
  void expect_safe_at_crash(const World& w, const Before& b) {
    EXPECT_TRUE(w.violations.empty()) << w.violations.front();
    if (auto held = w.held()) {
      EXPECT_TRUE(w.authenticates(*held)) << "Infisical's pair";
    }
    EXPECT_TRUE(w.authenticates(b.in_use)) << "the pair consumers hold keeps working";
    auto j = w.journal.find("billing");
    for (const auto& key : w.valid_keys()) {
      // An intent record announces whatever Active credential appears in the slot after it.
      const bool announced = j != w.journal.end() && j->second.phase == JournalPhase::Intent &&
                             w.slot && w.slot->pair.key == key;
      const bool known = b.valid.count(key) || (w.held() && w.held()->key == key) ||
                         (j != w.journal.end() && j->second.key.equals(key)) || announced;
      EXPECT_TRUE(known) << "a valid credential nobody durable knows of";
    }
    if (w.slot && w.slot->state == StagedState::Active) {
      const bool journaled = j != w.journal.end() && (j->second.phase == JournalPhase::Intent ||
                                                      j->second.key.equals(w.slot->pair.key));
      EXPECT_TRUE(journaled) << "a staged credential that exists only in memory";
    }
  }

  // After the restart ran to completion: exactly one rotation, published and working.
  void expect_rotated_once(const World& w, const Before& b) {
    EXPECT_TRUE(w.violations.empty()) << w.violations.front();
    EXPECT_TRUE(w.journal.empty());
    auto held = w.held();
    ASSERT_TRUE(held.has_value());
    EXPECT_TRUE(w.authenticates(*held));
    EXPECT_EQ(held->key, w.primary.key);
    EXPECT_NE(held->key, b.in_use.key);
    EXPECT_EQ(w.valid_keys(), (std::set<std::string>{b.in_use.key, held->key}))
        << "only the new pair and the one it replaced are valid";
    EXPECT_EQ(w.promotes, b.promotes + 1) << "promoted exactly once";
    auto md = w.held_metadata();
    EXPECT_EQ(md[meta::kGeneration], std::to_string(b.generation + 1));
    EXPECT_EQ(md[meta::kFingerprint], fingerprint(held->key));
    auto rec = w.records.find("billing");
    ASSERT_NE(rec, w.records.end());
    EXPECT_EQ(rec->second.generation, b.generation + 1);
    EXPECT_EQ(rec->second.fingerprint, fingerprint(held->key));
  }

  Coverage crash_everywhere(const char* scenario, const std::function<void(World&)>& setup) {
    Coverage cov;
    World probe;
    setup(probe);
    const int start = probe.operations();
    const Before pb = before(probe);
    EXPECT_EQ(run(probe).result, RotationResult::Rotated);
    expect_rotated_once(probe, pb);
    cov.operations = probe.operations() - start;
    for (int i = 0; i < cov.operations; ++i) {
      const std::string& op = probe.log()[start + i];
      if (op.rfind("sf.", 0) == 0 || op.rfind("inf.", 0) == 0) ++cov.external_calls;
      for (CrashMode mode : {CrashMode::BeforeEffect, CrashMode::AnswerLost}) {
        SCOPED_TRACE(std::string(scenario) + ": crash at operation " + std::to_string(i) + " (" +
                     op + "), " + to_string(mode));
        World w;
        setup(w);
        const Before b = before(w);
        w.crash_at(start + i, mode);
        EXPECT_THROW(run(w), Crash);
        w.no_crash();
        EXPECT_EQ(w.log()[start + i], op) << "the world is deterministic";
        expect_safe_at_crash(w, b);
        w.now += std::chrono::minutes(1);  // the restart
        auto o = run(w);
        EXPECT_TRUE(o.result == RotationResult::Rotated || o.result == RotationResult::NotDue)
            << o.detail;
        expect_rotated_once(w, b);
        auto again = run(w);
        EXPECT_EQ(again.result, RotationResult::NotDue) << again.detail;
        EXPECT_EQ(w.promotes, b.promotes + 1);
        ++cov.crash_points;
      }
    }
    std::printf("[crash matrix] %s: %d operations (%d external calls), %d crash points\n", scenario,
                cov.operations, cov.external_calls, cov.crash_points);
    return cov;
  }

  Config config_;
  std::FILE* devnull_ = std::fopen("/dev/null", "w");
  Logger log_{LogFormat::Text, devnull_};
};

TEST_F(EngineCrashTest, FirstRotationSurvivesACrashAtEveryCall) {
  auto cov = crash_everywhere("first rotation", first_rotation);
  // R2, R4, list, folder list, folder, write check, R2, intent, R5, journal, token, R7,
  // journal, upsert, record, clear.
  EXPECT_EQ(cov.operations, 16);
  EXPECT_EQ(cov.crash_points, 2 * cov.operations);
}

TEST_F(EngineCrashTest, SteadyRotationSurvivesACrashAtEveryCall) {
  auto cov = crash_everywhere("steady rotation", [this](World& w) { steady_rotation(w); });
  // As the first, plus R8 of the credential two rotations old, minus the folder creation.
  EXPECT_EQ(cov.operations, 16);
  EXPECT_EQ(cov.crash_points, 2 * cov.operations);
}

TEST_F(EngineCrashTest, RecoveryFromTheJournalSurvivesACrashAtEveryCall) {
  auto cov = crash_everywhere("recovery from a journal entry",
                              [this](World& w) { journaled_rotation(w); });
  // R2, R4, token, R7, journal, list, folder, upsert, record, clear.
  EXPECT_EQ(cov.operations, 10);
  EXPECT_EQ(cov.crash_points, 2 * cov.operations);
}

// Issue 14: when Infisical would refuse the publish (no write permission, or an approval
// policy), the rotation stops before anything changes at Salesforce: nothing staged,
// promoted or revoked (not even the credential of two rotations ago), nothing journaled,
// and the pair consumers hold stays the one in Infisical. Once writes are taken again, the
// next run rotates.
TEST_F(EngineCrashTest, AnUnprovenPublishPathChangesNothingAtSalesforce) {
  for (auto refusal : {World::Writes::Forbidden, World::Writes::NeedApproval}) {
    for (bool steady : {false, true}) {
      SCOPED_TRACE(std::string(steady ? "steady" : "first") + " rotation, " +
                   (refusal == World::Writes::Forbidden ? "forbidden" : "approval"));
      World w;
      if (steady) steady_rotation(w);
      const Before b = before(w);
      const auto slot_before = w.slot ? w.slot->id : std::string();
      w.writes = refusal;
      const int start = w.operations();
      auto o = run(w);
      EXPECT_EQ(o.result, RotationResult::Failed);
      EXPECT_NE(o.detail.find("nothing was changed at Salesforce"), std::string::npos) << o.detail;
      EXPECT_EQ(o.impact, "the current credential stays valid; nothing was changed");
      for (int i = start; i < w.operations(); ++i) {
        const std::string& op = w.log()[static_cast<std::size_t>(i)];
        EXPECT_TRUE(op.rfind("sf.", 0) != 0 || op == "sf.consumers" || op == "sf.staged_list")
            << op << ": Salesforce was touched beyond the reads of step 1";
        EXPECT_NE(op, "inf.upsert") << "no publish";
      }
      EXPECT_EQ(w.promotes, b.promotes);
      EXPECT_EQ(w.slot ? w.slot->id : std::string(), slot_before);
      EXPECT_TRUE(w.journal.empty());
      EXPECT_EQ(w.held().value_or(w.primary).key, b.in_use.key);
      w.writes = World::Writes::Taken;
      EXPECT_EQ(run(w).result, RotationResult::Rotated);
      expect_rotated_once(w, b);
    }
  }
}

// The promote is journaled, so a restart after it never promotes (or verifies) again.
TEST_F(EngineCrashTest, APromoteIsJournaledAndNeverRepeated) {
  World w;
  steady_rotation(w);
  const Before b = before(w);
  crash_between_promote_and_publish(w);
  ASSERT_EQ(w.journal.count("billing"), 1u);
  EXPECT_EQ(w.journal.at("billing").phase, JournalPhase::Promoted);
  const int start = w.operations();
  EXPECT_EQ(run(w).result, RotationResult::Rotated);
  for (int i = start; i < w.operations(); ++i) {
    EXPECT_NE(w.log()[i], "sf.promote");
    EXPECT_NE(w.log()[i], "sf.token");
  }
  expect_rotated_once(w, b);
}

// A crash between the promote and the publish, and then the journal is lost (a rebuilt VM):
// Infisical still holds the pair that is now Rotated, so the restart publishes the current
// primary (read back with R3) and revokes nothing.
TEST_F(EngineCrashTest, ALostJournalAfterThePromoteNeverRevokesWhatInfisicalHolds) {
  World w;
  steady_rotation(w);
  const Before b = before(w);
  crash_between_promote_and_publish(w);
  w.journal.clear();
  w.records.clear();
  w.now += std::chrono::minutes(1);
  auto o = run(w);
  EXPECT_EQ(o.result, RotationResult::Published) << o.detail;
  EXPECT_TRUE(w.violations.empty()) << w.violations.front();
  EXPECT_TRUE(w.authenticates(b.in_use)) << "the pair consumers hold keeps working";
  ASSERT_TRUE(w.held().has_value());
  EXPECT_EQ(w.held()->key, w.primary.key);
  EXPECT_EQ(w.held_metadata()[meta::kGeneration], std::to_string(b.generation + 1));
  EXPECT_EQ(w.promotes, b.promotes + 1);
}

// A journaled promote that Salesforce has since replaced is neither promoted again nor
// published (that would hand out an older pair); the next run publishes the current primary.
TEST_F(EngineCrashTest, ASupersededPromotedEntryIsDroppedNotPublished) {
  World w;
  steady_rotation(w);
  crash_between_promote_and_publish(w);
  const std::string journaled = std::string(w.journal.at("billing").key.view());
  // Someone rotates by hand meanwhile (deleting the Rotated credential to free the slot):
  // the journaled credential is primary no longer.
  w.slot.reset();
  SlotCredential hand;
  hand.id = w.new_id("0Ls");
  hand.pair = w.primary;
  hand.state = StagedState::Rotated;
  hand.created = w.now;
  hand.expires = w.now + std::chrono::hours(24 * 30);
  w.primary = w.new_pair();
  w.slot = hand;
  auto o = run(w);
  EXPECT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.impact.find("replaced as primary"), std::string::npos) << o.impact;
  EXPECT_TRUE(w.journal.empty());
  ASSERT_TRUE(w.held().has_value());
  EXPECT_NE(w.held()->key, journaled);
  EXPECT_EQ(w.promotes, 2) << "one by the setup, one by the crashed run, none by the resume";
  EXPECT_EQ(run(w).result, RotationResult::Published);
  EXPECT_EQ(w.held()->key, w.primary.key);
}

// `validate --online` and `status --online` look through survey(): it tells which credential
// Infisical's pair is at each stage of a rotation, and it only reads.
TEST_F(EngineCrashTest, SurveyTellsWhichCredentialInfisicalHoldsAndChangesNothing) {
  World w;
  auto look = [&] {
    const int start = w.operations();
    const auto journal = w.journal.size();
    const auto records = w.records.size();
    auto s = Agent(w, config_, log_).survey(rotation());
    for (int i = start; i < w.operations(); ++i) {
      const std::string& op = w.log()[static_cast<std::size_t>(i)];
      EXPECT_TRUE(op == "sf.consumers" || op == "sf.staged_list" || op == "inf.folder_list" ||
                  op == "inf.list")
          << op;
    }
    EXPECT_EQ(w.journal.size(), journal);
    EXPECT_EQ(w.records.size(), records);
    return s;
  };
  auto s = look();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->published, Survey::Published::Nothing);
  EXPECT_EQ(s->consumer_id, w.consumer_id);

  ASSERT_EQ(run(w).result, RotationResult::Rotated);
  s = look();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->published, Survey::Published::Primary);

  // Promoted but not published: Infisical holds the pair that is now the previous one.
  w.now += std::chrono::hours(24 * 15);
  crash_between_promote_and_publish(w);
  s = look();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->published, Survey::Published::Previous);

  // A pair Salesforce does not know (someone rotated by hand and deleted the slot).
  w.journal.clear();
  w.slot.reset();
  w.primary = w.new_pair();
  s = look();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->published, Survey::Published::Unknown);
}

}  // namespace
}  // namespace eca::enginetest

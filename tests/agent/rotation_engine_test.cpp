// The rotation protocol against the in-process fakes, over real loopback HTTP:
// what each step does to which credentials, and what happens when a step fails. These are
// integration tests of the engine with the real clients; rotation_engine_crash_test.cpp
// runs the engine alone against an in-memory world and crashes it at every call.
#include "agent/rotation_engine.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/api_budget.h"
#include "agent/file_journal.h"
#include "agent/shared_listing.h"
#include "agent/state_store.h"
#include "clients/curl_transport.h"
#include "clients/infisical_client.h"
#include "clients/salesforce_client.h"
#include "crypto/fingerprint.h"
#include "crypto/key_pair.h"
#include "tests/sandbox/fake_infisical.h"
#include "tests/sandbox/fake_salesforce.h"

namespace eca {
namespace {

using sandbox::FakeInfisical;
using sandbox::FakeSalesforce;
using sandbox::Fault;

Fault answer(const std::string& endpoint, int status, const std::string& body) {
  Fault f;
  f.endpoint = endpoint;
  f.status = status;
  f.body = body;
  f.times = 1;
  return f;
}

Fault lost_answer(const std::string& endpoint) {
  Fault f;
  f.endpoint = endpoint;
  f.reset = true;
  f.apply_then_fail = true;
  f.times = 1;
  return f;
}

class FakeTime final : public Clock {
 public:
  explicit FakeTime(const sandbox::FakeClock& c) : c_(c) {}
  TimePoint now() const override { return c_.now(); }

 private:
  const sandbox::FakeClock& c_;
};

// A journal whose writes can be made to fail, over the real file journal.
class FlakyJournal final : public Journal {
 public:
  explicit FlakyJournal(Journal& inner) : inner_(inner) {}
  Status write(const JournalEntry& e) override {
    if (fail_phase_ && *fail_phase_ == e.phase) return Error::permanent("No space left on device");
    return inner_.write(e);
  }
  Result<std::optional<JournalEntry>> read(const std::string& r) override { return inner_.read(r); }
  Status clear(const std::string& r) override {
    return lose_clear_ ? ok_status() : inner_.clear(r);
  }
  std::optional<JournalPhase> fail_phase_;
  bool lose_clear_ = false;  // a removal undone by a power loss (it is not fsynced)

 private:
  Journal& inner_;
};

// Every test runs against both Infisical server generations (current routes, and a
// legacy-only server the client falls back from).
class RotationEngineTest : public ::testing::TestWithParam<bool> {
 protected:
  // A client of the fake's project proj-1, environment prod, as the given identity.
  std::unique_ptr<InfisicalClient> infisical_client(const std::string& id,
                                                    const std::string& secret) {
    InfisicalEndpoint ie;
    ie.url = inf_->base_url();
    ie.project_id = "proj-1";
    ie.environment = "prod";
    ie.client_id = id;
    ie.client_secret = Secret(secret);
    return std::make_unique<InfisicalClient>(transport_, std::move(ie));
  }

  void SetUp() override {
    char tmpl[] = "/tmp/eca-engine-XXXXXX";
    dir_ = mkdtemp(tmpl);
    sf_ = std::make_unique<FakeSalesforce>(sandbox::FakeSalesforceOptions{}, clock_);
    sandbox::FakeInfisicalOptions inf_options;
    inf_options.legacy_routes_only = GetParam();
    inf_ = std::make_unique<FakeInfisical>(inf_options, clock_);
    sf_->start();
    inf_->start();
    conn_ = sf_->add_app("Connection_App");
    app_ = sf_->add_app("Billing_Integration");
    inf_->add_identity("identity-1", "identity-secret-1");
    inf_->add_project("proj-1", "demo", {"prod"});
    inf_->add_member("proj-1", "identity-1");

    config_.agent.state_dir = dir_ / "state";
    RotationSettings r;
    r.name = "billing";
    r.connection = "acme";
    r.app_id = app_.id;
    r.secret_path = "/salesforce/billing";
    config_.rotations.push_back(r);

    SalesforceEndpoint se;
    se.name = "acme";
    se.my_domain_url = sf_->base_url();
    se.client_id = conn_.primary().key;
    se.client_secret = Secret(conn_.primary().secret);
    sfc_ = std::make_unique<SalesforceClient>(transport_, std::move(se));
    infc_ = infisical_client("identity-1", "identity-secret-1");
    kp_ = generate_key_pair();
    sealer_ = std::make_unique<Sealer>(Sealer::from_public_key(kp_.public_key_b64).value());
    store_ = std::make_unique<StateStore>(config_.agent.state_dir);
    ASSERT_TRUE(store_->init().ok());
    file_journal_ = std::make_unique<FileJournal>(config_.agent.state_dir);
    ASSERT_TRUE(file_journal_->open().ok());
    journal_ = std::make_unique<FlakyJournal>(*file_journal_);
  }
  void TearDown() override {
    sf_->stop();
    inf_->stop();
    std::filesystem::remove_all(dir_);
  }

  RotationEngine engine() { return RotationEngine(deps()); }
  EngineDeps deps() {
    EngineDeps d;
    d.config = &config_;
    d.infisical = infisc();
    d.salesforce["acme"] = sfc_.get();
    d.sealer = sealer_.get();
    d.journal = journal_.get();
    d.state = store_.get();
    d.clock = &time_;
    d.log = &log_;
    d.verify_attempts = 1;
    return d;
  }
  InfisicalClient* infisc() { return infc_.get(); }
  const RotationSettings& rotation() { return config_.rotations.front(); }

  // The pair Infisical holds for the rotation, opened with the private key.
  std::optional<sandbox::Credential> published() {
    auto k = inf_->secret("proj-1", "prod", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY");
    auto s = inf_->secret("proj-1", "prod", "/salesforce/billing", "SALESFORCE_CONSUMER_SECRET");
    if (!k || !s) return std::nullopt;
    auto ko = open_envelope(k->value, kp_.private_key_b64);
    auto so = open_envelope(s->value, kp_.private_key_b64);
    if (!ko || !so) return std::nullopt;
    return sandbox::Credential{std::string(ko->view()), std::string(so->view())};
  }

  std::shared_ptr<sandbox::FakeClock> clock_ = std::make_shared<sandbox::FakeClock>();
  FakeTime time_{*clock_};
  std::filesystem::path dir_;
  std::unique_ptr<FakeSalesforce> sf_;
  std::unique_ptr<FakeInfisical> inf_;
  sandbox::AppInfo conn_, app_;
  Config config_;
  CurlTransport transport_;
  std::unique_ptr<SalesforceClient> sfc_;
  std::unique_ptr<InfisicalClient> infc_;
  KeyPair kp_;
  std::unique_ptr<Sealer> sealer_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<FileJournal> file_journal_;
  std::unique_ptr<FlakyJournal> journal_;
  Logger log_{LogFormat::Text, stderr};
};

TEST_P(RotationEngineTest, FirstRotationPublishesAWorkingSealedPair) {
  const auto original = app_.primary();
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  auto pub = published();
  ASSERT_TRUE(pub.has_value());
  EXPECT_TRUE(sf_->authenticates(pub->key, pub->secret));
  EXPECT_NE(pub->key, original.key) << "the key changes on every rotation";
  EXPECT_EQ(sf_->primary(app_.id)->key, pub->key);
  // The pair it replaced stays valid (Rotated) until the next rotation.
  EXPECT_TRUE(sf_->authenticates(original.key, original.secret));
  auto meta =
      inf_->secret("proj-1", "prod", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY")->metadata;
  EXPECT_EQ(meta[meta::kFingerprint], fingerprint(pub->key));
  EXPECT_EQ(meta[meta::kGeneration], "1");
  EXPECT_EQ(meta[meta::kManual], "true");
  EXPECT_TRUE(file_journal_->pending().empty());
}

TEST_P(RotationEngineTest, SecondRotationRevokesNMinus1AndKeepsN) {
  const auto gen0 = app_.primary();
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  const auto gen1 = *published();
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  const auto gen2 = *published();
  EXPECT_FALSE(sf_->authenticates(gen0.key, gen0.secret)) << "N-1 must be revoked";
  EXPECT_TRUE(sf_->authenticates(gen1.key, gen1.secret)) << "N must stay valid";
  EXPECT_TRUE(sf_->authenticates(gen2.key, gen2.secret));
  EXPECT_EQ(o.generation, 2);
  auto staged = sf_->staged(app_.id);
  ASSERT_TRUE(staged.has_value());
  EXPECT_EQ(staged->credential.key, gen1.key);
  EXPECT_EQ(staged->state, sandbox::StagedState::Rotated);
}

// Every request counts against the org's daily API limit and Infisical's rate limit:
// the steady-state rotation makes exactly the requests of the protocol, and the first
// one into a new folder creates the folder instead of learning from a failed upsert.
TEST_P(RotationEngineTest, RotationsMakeOnlyTheProtocolsRequests) {
  const long long rest_before_first = sf_->rest_requests();
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  // The daily API budget (agent/api_budget.h) counts on this many REST calls: the first
  // rotation has no Rotated credential to revoke (R8).
  EXPECT_EQ(sf_->rest_requests() - rest_before_first, kRestCallsPerRotation - 1);
  EXPECT_EQ(inf_->request_count("inf.folder_list"), 1) << "the environment probe";
  EXPECT_EQ(inf_->request_count("inf.folder_create"), 1);
  EXPECT_EQ(inf_->request_count("inf.upsert"), 2) << "write check + publish, none into a "
                                                     "missing folder";
  EXPECT_EQ(inf_->request_count("inf.list"), 1);

  sf_->clear_log();
  inf_->clear_log();
  const long long rest_before = sf_->rest_requests();
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  // R2, R4, R8 (two rotations ago), R2 again right before R5, R5, the verify token, R7:
  // every one but the token request counts against the org's daily API requests, and the
  // budget's estimate is exactly that.
  EXPECT_EQ(sf_->rest_requests() - rest_before, kRestCallsPerRotation);
  EXPECT_EQ(sf_->request_count("sf.consumers"), 2);
  EXPECT_EQ(sf_->request_count("sf.staged_list"), 1);
  EXPECT_EQ(sf_->request_count("sf.revoke"), 1);
  EXPECT_EQ(sf_->request_count("sf.stage"), 1);
  EXPECT_EQ(sf_->request_count("sf.token"), 1) << "the connection's token is cached";
  EXPECT_EQ(sf_->request_count("sf.promote"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 1) << "one look before, none after staging";
  // The proof of the publish path before anything changes at Salesforce: the environment
  // probe and the write check.
  EXPECT_EQ(inf_->request_count("inf.folder_list"), 1);
  EXPECT_EQ(inf_->request_count("inf.upsert"), 2) << "the publish's answer carries the read-back";
  EXPECT_EQ(inf_->request_count("inf.folder_create"), 0);
  EXPECT_EQ(inf_->request_count("inf.login"), 0) << "the Infisical token is cached";
}

TEST_P(RotationEngineTest, AJournalEntryBroughtBackByAPowerLossOnlyCommits) {
  journal_->lose_clear_ = true;
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  ASSERT_FALSE(file_journal_->pending().empty());
  const auto pub = *published();
  journal_->lose_clear_ = false;
  sf_->clear_log();
  inf_->clear_log();
  auto o = engine().rotate(rotation(), false, true);  // the scheduled run after the reboot
  EXPECT_EQ(o.generation, 1) << o.detail;
  EXPECT_EQ(sf_->request_count("sf.stage"), 0);
  EXPECT_EQ(sf_->request_count("sf.promote"), 0);
  EXPECT_EQ(sf_->request_count("sf.revoke"), 0);
  EXPECT_EQ(inf_->request_count("inf.upsert"), 0);
  EXPECT_EQ(published()->key, pub.key);
  EXPECT_EQ(published()->secret, pub.secret);
  EXPECT_TRUE(sf_->authenticates(pub.key, pub.secret));
  EXPECT_TRUE(file_journal_->pending().empty());
}

TEST_P(RotationEngineTest, RefusesTheConnectionsOwnApp) {
  config_.rotations.front().app_id = conn_.id;
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.detail.find("refusing to rotate"), std::string::npos) << o.detail;
  EXPECT_EQ(sf_->request_count("sf.stage"), 0);
}

TEST_P(RotationEngineTest, RefusesSecretsNotWrittenByUsUnlessAdopting) {
  inf_->put_secret("proj-1", "prod", "/salesforce/billing", "SALESFORCE_CONSUMER_KEY", "hand-made");
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.detail.find("adopt = true"), std::string::npos) << o.detail;
  EXPECT_EQ(sf_->request_count("sf.stage"), 0);
  config_.rotations.front().adopt = true;
  EXPECT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
}

TEST_P(RotationEngineTest, JournalFailureDeletesTheStagedCredentialAndKeepsTheOldPair) {
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  const auto before = *published();
  journal_->fail_phase_ = JournalPhase::Staged;
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.detail.find("No space left on device"), std::string::npos) << o.detail;
  EXPECT_NE(o.impact.find("staged credential was deleted"), std::string::npos) << o.impact;
  EXPECT_NE(o.impact.find("current credential stays valid"), std::string::npos) << o.impact;
  EXPECT_EQ(sf_->request_count("sf.promote"), 1) << "only the first rotation promoted";
  auto staged = sf_->staged(app_.id);
  EXPECT_TRUE(!staged || staged->state != sandbox::StagedState::Active);
  EXPECT_EQ(published()->key, before.key);
  EXPECT_TRUE(sf_->authenticates(before.key, before.secret));
}

TEST_P(RotationEngineTest, UnverifiablePairIsNeverPromoted) {
  // The connection token is fetched first, so the next token request is the verify one.
  ASSERT_TRUE(sfc_->authenticate().ok());
  sf_->inject(
      answer("sf.token", 400,
             R"({"error":"invalid_client","error_description":"invalid client credentials"})"));
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.detail.find("did not authenticate"), std::string::npos) << o.detail;
  EXPECT_EQ(sf_->request_count("sf.promote"), 0);
  EXPECT_FALSE(published().has_value());
  auto staged = sf_->staged(app_.id);
  EXPECT_FALSE(staged.has_value()) << "the unverified credential is deleted";
}

TEST_P(RotationEngineTest, PublishFailureAfterPromoteIsCompletedByTheNextRun) {
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  const auto gen1 = *published();
  Fault down =
      answer("inf.upsert", 503,
             R"({"reqId":"req-x","statusCode":503,"error":"ServiceUnavailable","message":"down"})");
  down.skip = 1;  // the write check before staging passes; the publish after the promote fails
  inf_->inject(down);
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.impact.find("still holds the previous pair"), std::string::npos) << o.impact;
  EXPECT_NE(o.impact.find("published on the next attempt"), std::string::npos) << o.impact;
  EXPECT_EQ(o.next, "run `eca-rotator rotate billing` again") << "one-shot: a rerun hint";
  // Infisical keeps gen1, now Rotated and still valid.
  EXPECT_EQ(published()->key, gen1.key);
  EXPECT_TRUE(sf_->authenticates(gen1.key, gen1.secret));
  EXPECT_EQ(file_journal_->pending(), std::vector<std::string>{"billing"});
  auto again = engine().rotate(rotation(), true);
  ASSERT_EQ(again.result, RotationResult::Rotated) << again.detail;
  EXPECT_EQ(published()->key, sf_->primary(app_.id)->key);
  EXPECT_TRUE(sf_->authenticates(gen1.key, gen1.secret)) << "N is never revoked by recovery";
  EXPECT_TRUE(file_journal_->pending().empty());
}

TEST_P(RotationEngineTest, PromoteFailureKeepsTheStagedCredentialAndSaysSo) {
  const auto original = app_.primary();
  sf_->inject(
      answer("sf.promote", 503, R"([{"errorCode":"SERVER_UNAVAILABLE","message":"try later"}])"));
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Failed);
  EXPECT_NE(o.impact.find("staged and journaled but not promoted"), std::string::npos) << o.impact;
  EXPECT_NE(o.impact.find("current credential stays valid"), std::string::npos) << o.impact;
  EXPECT_EQ(o.next, "run `eca-rotator rotate billing` again");
  EXPECT_EQ(sf_->primary(app_.id)->key, original.key);
  EXPECT_EQ(file_journal_->pending(), std::vector<std::string>{"billing"});
  EXPECT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
}

TEST_P(RotationEngineTest, NextStepComesFromTheCallerWhenItRetries) {
  config_.rotations.front().app_id = conn_.id;  // refused: a permanent failure
  std::string asked;
  EngineDeps d = deps();
  d.next_step = [&](const RotationSettings& r, const Error& err) {
    asked = r.name + ":" + to_string(err.kind);
    // The failure is recorded before the caller plans from it.
    auto rec = store_->load(r.name);
    return rec && rec->has_value() && (*rec)->consecutive_failures == 1 ? "planned" : "early";
  };
  RotationEngine retrying(std::move(d));
  auto o = retrying.rotate(rotation(), false);
  EXPECT_EQ(asked, "billing:permanent");
  EXPECT_EQ(o.next, "planned");
  EXPECT_EQ(o.impact, "the current credential stays valid; nothing was changed");
}

TEST_P(RotationEngineTest, LostPromoteAnswerIsResolvedByAskingSalesforce) {
  sf_->inject(lost_answer("sf.promote"));
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  auto pub = published();
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(pub->key, sf_->primary(app_.id)->key);
}

TEST_P(RotationEngineTest, RecentForeignStagedCredentialDefersOldOneIsDeleted) {
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  ASSERT_TRUE(sf_->revoke_staged_by_hand(app_.id));
  const auto foreign = sf_->stage_by_hand(app_.id);
  ASSERT_TRUE(foreign.has_value());
  auto o = engine().rotate(rotation(), true);
  EXPECT_EQ(o.result, RotationResult::Deferred) << o.detail;
  EXPECT_TRUE(sf_->authenticates(foreign->credential.key, foreign->credential.secret))
      << "someone else's recent rotation is left alone";
  clock_->advance(std::chrono::minutes(61));
  auto later = engine().rotate(rotation(), true);
  EXPECT_EQ(later.result, RotationResult::Rotated) << later.detail;
  // The abandoned credential was deleted, not promoted or left behind.
  EXPECT_FALSE(sf_->authenticates(foreign->credential.key, foreign->credential.secret));
  EXPECT_TRUE(sf_->app_of_key(foreign->credential.key).empty());
  const auto slot = sf_->staged(app_.id);
  ASSERT_TRUE(slot.has_value());
  EXPECT_NE(slot->credential.key, foreign->credential.key);
}

TEST_P(RotationEngineTest, DueCheckUsesTheMetadataInInfisical) {
  ASSERT_EQ(engine().rotate(rotation(), false).result, RotationResult::Rotated);
  // Another agent (fresh state dir, same config) must not rotate it again.
  std::filesystem::remove_all(config_.agent.state_dir / "rotations");
  ASSERT_TRUE(store_->init().ok());
  auto o = engine().rotate(rotation(), false, /*only_if_due=*/true);
  EXPECT_EQ(o.result, RotationResult::NotDue) << o.detail;
  auto rec = store_->load("billing");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_TRUE((*rec)->last_rotated.has_value()) << "schedules from the recorded time";
  clock_->advance(std::chrono::hours(24 * 31));
  EXPECT_EQ(engine().rotate(rotation(), false, true).result, RotationResult::Rotated);
}

TEST_P(RotationEngineTest, PromotedButUnpublishedIsPublishedBeforeAnythingIsRevoked) {
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  const auto gen1 = *published();
  // Someone (or a run that lost its journal) staged and promoted without publishing.
  ASSERT_TRUE(sf_->revoke_staged_by_hand(app_.id));
  ASSERT_TRUE(sf_->stage_by_hand(app_.id).has_value());
  ASSERT_TRUE(sf_->promote_by_hand(app_.id));
  auto o = engine().rotate(rotation(), true);
  ASSERT_EQ(o.result, RotationResult::Published) << o.detail;
  EXPECT_EQ(published()->key, sf_->primary(app_.id)->key);
  EXPECT_TRUE(sf_->authenticates(gen1.key, gen1.secret)) << "the pair consumers held stays valid";
}

// --- one listing for a burst (shared_listing.h) ---

// Rotations "billing" and app-2..app-N, all under /salesforce.
class SharedListingTest : public RotationEngineTest {
 protected:
  void add_rotations(int n) {
    for (int i = 2; i <= n; ++i) {
      RotationSettings r = config_.rotations.front();
      r.name = "app-" + std::to_string(i);
      r.app_id = sf_->add_app("App_" + std::to_string(i)).id;
      r.secret_path = "/salesforce/app-" + std::to_string(i);
      config_.rotations.push_back(r);
    }
  }
  std::vector<const RotationSettings*> all() {
    std::vector<const RotationSettings*> todo;
    for (const auto& r : config_.rotations) todo.push_back(&r);
    return todo;
  }
  // What Runtime::rotate_batch does, on one thread: the listing, then each rotation.
  // `meanwhile` runs between the listing and the rotations.
  std::vector<RotationOutcome> burst(bool shared, bool only_if_due = false,
                                     const std::function<void()>& meanwhile = {}) {
    SharedListing listing(*infc_, time_, log_,
                          shared ? all() : std::vector<const RotationSettings*>{});
    listing.take();
    if (meanwhile) meanwhile();
    RotationEngine e = engine();
    e.use_listing(&listing);
    std::vector<RotationOutcome> out;
    for (const auto& r : config_.rotations) out.push_back(e.rotate(r, !only_if_due, only_if_due));
    return out;
  }
  // The engine of another agent sharing the config: its own state directory.
  RotationOutcome other_agent_rotates(const RotationSettings& r) {
    StateStore store(dir_ / "other");
    EXPECT_TRUE(store.init().ok());
    FileJournal journal(dir_ / "other");
    EXPECT_TRUE(journal.open().ok());
    EngineDeps d = deps();
    d.state = &store;
    d.journal = &journal;
    return RotationEngine(d).rotate(r, false);
  }
  void clear_logs() {
    sf_->clear_log();
    inf_->clear_log();
  }
};

// A burst under one parent folder costs one list of Infisical's secret category, not one
// per rotation (each rotation's proof and publish still write).
TEST_P(SharedListingTest, ABurstUnderOneParentListsTheSecretsOnce) {
  add_rotations(6);
  for (const auto& o : burst(true)) ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  // First rotations: nothing published yet and no local record, so each looked itself.
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 6);

  clear_logs();
  for (const auto& o : burst(true)) {
    EXPECT_EQ(o.result, RotationResult::Rotated) << o.detail;
    EXPECT_EQ(o.generation, 2) << o.name;
  }
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 0) << "every first look came from the listing";
  EXPECT_EQ(inf_->request_count("inf.upsert"), 12) << "write check + publish each";
  const auto pub = published();
  ASSERT_TRUE(pub.has_value());
  EXPECT_TRUE(sf_->authenticates(pub->key, pub->secret));
}

// A single rotation keeps its own look: a listing would cost the same request.
TEST_P(SharedListingTest, ASingleRotationMakesNoSharedListing) {
  ASSERT_EQ(engine().rotate(rotation(), true).result, RotationResult::Rotated);
  clear_logs();
  for (const auto& o : burst(true)) ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 0);
  EXPECT_EQ(inf_->request_count("inf.list"), 1);
}

// Another agent rotates one app between the listing and this agent's look: the listing
// shows the pair before (it agrees with the local record), but Salesforce's primary no
// longer does, so that rotation lists its own folder and sees the other agent's pair
// (not due), as without the listing; the others go on from the listing.
TEST_P(SharedListingTest, AnotherAgentsRotationAfterTheListingIsSeen) {
  add_rotations(3);
  for (const auto& o : burst(false)) ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  clock_->advance(std::chrono::hours(24 * 31));  // all due again
  ASSERT_TRUE(infc_->login().ok()) << "the token expired meanwhile";
  clear_logs();
  RotationOutcome theirs;
  auto ours = burst(true, /*only_if_due=*/true,
                    [&] { theirs = other_agent_rotates(config_.rotations[1]); });
  ASSERT_EQ(theirs.result, RotationResult::Rotated) << theirs.detail;
  EXPECT_EQ(ours[1].result, RotationResult::NotDue) << ours[1].detail;
  EXPECT_EQ(ours[1].fingerprint, theirs.fingerprint);
  EXPECT_EQ(ours[1].generation, 2);
  EXPECT_EQ(ours[0].result, RotationResult::Rotated) << ours[0].detail;
  EXPECT_EQ(ours[2].result, RotationResult::Rotated) << ours[2].detail;
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1);
  // The other agent's own look, and ours at app-2.
  EXPECT_EQ(inf_->request_count("inf.list"), 2);
  EXPECT_EQ(sf_->request_count("sf.promote"), 3) << "theirs and our two: app-2 rotated once";
}

// The local record expects another generation than the listing shows (here: edited, as
// after a restore of the state directory): that rotation lists its own folder and
// decides from it, as without the listing.
TEST_P(SharedListingTest, ARecordThatDisagreesWithTheListingLooksItself) {
  add_rotations(3);
  for (const auto& o : burst(false)) ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  auto rec = store_->load("app-3");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  RotationRecord edited = **rec;
  edited.generation = 7;
  ASSERT_TRUE(store_->save(edited).ok());
  clear_logs();
  auto out = burst(true);
  for (const auto& o : out) EXPECT_EQ(o.result, RotationResult::Rotated) << o.detail;
  EXPECT_EQ(out[2].generation, 2) << "from what Infisical holds, as always";
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 1) << "app-3 only";
}

// A listing older than SharedListing::kMaxAge is not used: it is taken again while at
// least two rotations still wait for their look.
TEST_P(SharedListingTest, AStaleListingIsTakenAgain) {
  add_rotations(3);
  for (const auto& o : burst(false)) ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  clear_logs();
  auto out = burst(true, false, [&] { clock_->advance(std::chrono::seconds(61)); });
  for (const auto& o : out) EXPECT_EQ(o.result, RotationResult::Rotated) << o.detail;
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 2) << "taken, then again when stale";
  EXPECT_EQ(inf_->request_count("inf.list"), 0);
}

// A first burst's listing shows nothing any rotation can use: once stale it is not taken
// again (that would only add requests).
TEST_P(SharedListingTest, AListingThatServesNobodyIsNotTakenAgain) {
  add_rotations(3);
  auto out = burst(true, false, [&] { clock_->advance(std::chrono::seconds(61)); });
  for (const auto& o : out) EXPECT_EQ(o.result, RotationResult::Rotated) << o.detail;
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 3);
}

// Refused (403): every rotation looks itself, and rotates as without the listing.
TEST_P(SharedListingTest, ARefusedListingFallsBackToEachRotationsOwnList) {
  add_rotations(4);
  for (const auto& o : burst(false)) ASSERT_EQ(o.result, RotationResult::Rotated) << o.detail;
  clear_logs();
  inf_->inject(answer("inf.list_recursive", 403,
                      R"({"reqId":"req-1","statusCode":403,"message":"You are not allowed )"
                      R"(to read on secrets","error":"PermissionDenied"})"));
  for (const auto& o : burst(true)) EXPECT_EQ(o.result, RotationResult::Rotated) << o.detail;
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1) << "not asked again";
  EXPECT_EQ(inf_->request_count("inf.list"), 4);
}

// A role scoped to some of the folders: the listing leaves the others out without a word
// (transcript 128). Those rotations look themselves and fail as they would without it;
// the readable ones go on from the listing.
TEST_P(SharedListingTest, AFilteredListingLeavesTheHiddenFoldersToTheirOwnList) {
  add_rotations(4);
  sandbox::ProjectRole scoped;
  scoped.kind = sandbox::ProjectRole::Kind::Custom;
  // "/salesforce" itself: folder creates there (answered with the existing folder).
  scoped.rules = {
      {"prod", "/salesforce"}, {"prod", "/salesforce/billing"}, {"prod", "/salesforce/app-2"}};
  inf_->add_identity("identity-2", "identity-secret-2");
  inf_->add_member("proj-1", "identity-2", scoped);
  for (const auto& r : config_.rotations) inf_->put_folder("proj-1", "prod", r.secret_path);
  infc_ = infisical_client("identity-2", "identity-secret-2");
  auto first = burst(false);
  ASSERT_EQ(first[0].result, RotationResult::Rotated) << first[0].detail;
  ASSERT_EQ(first[1].result, RotationResult::Rotated) << first[1].detail;
  ASSERT_EQ(first[2].result, RotationResult::Failed) << first[2].detail;
  ASSERT_EQ(first[3].result, RotationResult::Failed) << first[3].detail;
  clear_logs();
  auto out = burst(true);
  EXPECT_EQ(out[0].result, RotationResult::Rotated) << out[0].detail;
  EXPECT_EQ(out[1].result, RotationResult::Rotated) << out[1].detail;
  for (int i : {2, 3}) {
    EXPECT_EQ(out[i].result, RotationResult::Failed) << out[i].detail;
    EXPECT_EQ(out[i].impact, first[i].impact);
    EXPECT_NE(out[i].detail.find("not allowed"), std::string::npos) << out[i].detail;
  }
  EXPECT_EQ(inf_->request_count("inf.list_recursive"), 1);
  EXPECT_EQ(inf_->request_count("inf.list"), 2) << "app-3 and app-4, which the listing hid";
}

INSTANTIATE_TEST_SUITE_P(InfisicalGenerations, SharedListingTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "LegacyInfisical" : "CurrentInfisical";
                         });

INSTANTIATE_TEST_SUITE_P(InfisicalGenerations, RotationEngineTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "LegacyInfisical" : "CurrentInfisical";
                         });

}  // namespace
}  // namespace eca

#include "agent/rotation_engine.h"

#include <array>
#include <cstdlib>
#include <thread>

#include "agent/infisical_limits.h"
#include "agent/schedule.h"
#include "agent/shared_listing.h"
#include "crypto/fingerprint.h"

namespace eca {

std::string rotation_config_fingerprint(const RotationSettings& r) {
  std::string s = r.connection + "\n" + r.app_id + "\n" + r.consumer_id + "\n" + r.secret_path +
                  "\n" + r.consumer_key_secret + "\n" + r.consumer_secret_secret;
  return fingerprint(s);
}

struct RotationEngine::Context {
  Context(const RotationSettings& rs, bool m, bool due_only)
      : r(rs), manual(m), only_if_due(due_only) {}
  const RotationSettings& r;
  bool manual;
  bool only_if_due;
  // A failure is booked against the rotation (status, metrics, /healthz) only when the
  // rotation itself failed; an operator command that is refused or fails leaves the
  // credentials as they were, and so the rotation's health too.
  bool books_failures = true;
  // Rolling a journal entry forward: every look at Infisical is the rotation's own.
  bool recovering = false;
  SalesforceApi* sf = nullptr;
  std::string consumer_id;
  bool held_exists = false;  // a mapped secret was seen or the proof wrote: the folder exists
  // The publish's Infisical requests, set aside before staging (empty without limits).
  RequestBudget::Reservation publish_budget;
};

// What step 1 learned: the consumer's primary key, its staged slot, what Infisical holds.
struct RotationEngine::Inspection {
  Secret primary_key;
  std::string primary_fp;
  std::vector<SfStaged> slot;
  HeldPair held;
};

// What a failed rotation means for the credentials, keyed by how far it got. Every failure
// names one of these; the texts are what an operator reads in the log and in `status`.
enum class RotationEngine::Impact : int {
  NothingChanged,
  JournalUnreadable,
  NothingStaged,
  StageUncertain,
  PrimaryChangedWhileRead,
  HeldRotatedUnreadable,
  DriftUnreadable,
  HeldRotatedUnpublished,
  DriftUnpublished,
  AbandonedStagedRemains,
  PreviousPreviousRemains,
  StagedNotJournaledDeleted,
  StagedNotJournaledRemains,
  IntentInterrupted,
  StagedInterrupted,
  JournalConsumerGone,
  JournaledStagedGone,
  JournaledPromotedSuperseded,
  UnverifiedDeleted,
  UnverifiedNotDeleted,
  StagedNotPromoted,
  PromotedNotPublished,
  PublishedNotRecorded,
  ResealUnpublished,
  NothingRevoked,
  NoPreviousCredential,
};

namespace {

using Impact = RotationEngine::Impact;

struct ImpactText {
  Impact impact;
  const char* text;
};

constexpr ImpactText kImpacts[] = {
    {Impact::NothingChanged, "the current credential stays valid; nothing was changed"},
    {Impact::JournalUnreadable,
     "the current credential stays valid; nothing was changed, and this rotation is paused "
     "until the journal record is repaired or removed"},
    {Impact::NothingStaged,
     "nothing was staged; the current credential stays valid and stays in Infisical"},
    {Impact::StageUncertain,
     "a new credential may have been staged, but it was never handed to anyone and stays "
     "announced in the journal, so the next attempt deletes it; the current credential stays "
     "valid and stays in Infisical"},
    {Impact::PrimaryChangedWhileRead,
     "nothing was staged or published; the primary credential stays valid"},
    {Impact::HeldRotatedUnreadable,
     "nothing was staged; Infisical keeps the previous pair, which stays valid until "
     "Salesforce expires it"},
    {Impact::DriftUnreadable,
     "nothing was staged; Infisical holds a pair that may no longer authenticate: rotate by "
     "hand or restore access"},
    {Impact::HeldRotatedUnpublished,
     "nothing was staged; Infisical still holds the previous pair, which stays valid until "
     "Salesforce expires it; the next attempt publishes the current primary"},
    {Impact::DriftUnpublished,
     "nothing was staged; Infisical holds a pair that may no longer authenticate until the "
     "next attempt publishes the current primary"},
    {Impact::AbandonedStagedRemains,
     "the current credential stays valid; the abandoned staged credential (never published) "
     "is still there and the next attempt deletes it"},
    {Impact::PreviousPreviousRemains,
     "nothing was staged; the current credential stays valid, and the one before it keeps "
     "authenticating until the next attempt deletes it"},
    {Impact::StagedNotJournaledDeleted,
     "the new credential could not be journaled, so the staged credential was deleted; the "
     "current credential stays valid and stays in Infisical"},
    {Impact::StagedNotJournaledRemains,
     "the new credential could not be journaled and deleting the staged credential also "
     "failed; it was never published and the next run cleans it up; the current credential "
     "stays valid and stays in Infisical"},
    {Impact::IntentInterrupted,
     "the current credential stays valid; the interrupted rotation had staged nothing that "
     "anyone uses, and the next attempt starts it over"},
    {Impact::StagedInterrupted,
     "the pair Infisical holds stays valid; the new credential of the interrupted rotation "
     "stays journaled and the next attempt completes it"},
    {Impact::JournalConsumerGone,
     "the interrupted rotation cannot be completed; this rotation is paused until its journal "
     "record is removed"},
    {Impact::JournaledStagedGone,
     "it was never promoted or published; the current credential stays valid and the next "
     "attempt starts the rotation over"},
    {Impact::JournaledPromotedSuperseded,
     "nothing was revoked; the interrupted rotation's credential was replaced as primary by a "
     "later promote, and the next attempt publishes the current primary if Infisical does not "
     "hold it"},
    {Impact::UnverifiedDeleted,
     "the new credential was deleted and never promoted; the current credential stays valid "
     "and stays in Infisical"},
    {Impact::UnverifiedNotDeleted,
     "the new credential was never promoted; deleting it failed, so it stays journaled and the "
     "next attempt deletes it; the current credential stays valid and stays in Infisical"},
    {Impact::StagedNotPromoted,
     "the new credential is staged and journaled but not promoted; the current credential "
     "stays valid and stays in Infisical; the next attempt continues with the staged one"},
    {Impact::PromotedNotPublished,
     "the new credential is primary at Salesforce, but Infisical still holds the previous "
     "pair, which stays valid until the next rotation; the new pair stays journaled and is "
     "published on the next attempt"},
    {Impact::PublishedNotRecorded,
     "the new pair is published and authenticates; only the local record of it was not saved, "
     "which the next attempt completes"},
    {Impact::ResealUnpublished,
     "nothing was changed at Salesforce; Infisical still holds the current pair sealed to the "
     "previous recipients (a newly added key cannot open it yet), and the next attempt "
     "publishes it again"},
    {Impact::NothingRevoked, "nothing was revoked; the previous credential still authenticates"},
    {Impact::NoPreviousCredential, "nothing was revoked; only the current credential exists"},
};

constexpr bool impacts_in_order() {
  for (std::size_t i = 0; i < std::size(kImpacts); ++i) {
    if (static_cast<std::size_t>(kImpacts[i].impact) != i) return false;
  }
  return static_cast<std::size_t>(Impact::NoPreviousCredential) + 1 == std::size(kImpacts);
}
static_assert(impacts_in_order(), "kImpacts has one text per Impact, in declaration order");

const char* impact_text(Impact i) {
  return kImpacts[static_cast<std::size_t>(i)].text;
}

Impact interrupted(const JournalEntry& entry) {
  return entry.phase == JournalPhase::Intent ? Impact::IntentInterrupted
                                             : Impact::StagedInterrupted;
}

const SfStaged* find_state(const std::vector<SfStaged>& slot, StagedState s) {
  for (const auto& c : slot) {
    if (c.state == s) return &c;
  }
  return nullptr;
}

std::string list_consumers(const std::vector<SfConsumer>& cs) {
  std::string out;
  for (const auto& c : cs) {
    if (!out.empty()) out += ", ";
    out += c.id + (c.name.empty() ? "" : " (" + c.name + ")");
  }
  return out;
}

Error with_context(Error e, const std::string& what) {
  e.message = what + e.message;
  return e;
}

JournalEntry journal_entry(const RotationSettings& r, const std::string& consumer_id,
                           long generation, bool manual, JournalPhase phase, TimePoint now) {
  JournalEntry e;
  e.rotation = r.name;
  e.generation = generation;
  e.app_id = r.app_id;
  e.consumer_id = consumer_id;
  e.phase = phase;
  e.manual = manual;
  e.config_fingerprint = rotation_config_fingerprint(r);
  e.written_at = format_utc(now);
  return e;
}

}  // namespace

// "x25519-sealedbox:<kid>[,<kid>…]" or "none": which keys the values were sealed to.
std::string encryption_label(const Sealer* sealer) {
  if (sealer == nullptr) return "none";
  std::string out = "x25519-sealedbox:";
  const auto ids = sealer->key_ids();
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + ids[i];
  return out;
}

HeldPair held_pair(const RotationSettings& r, const std::vector<StoredSecret>& secrets) {
  HeldPair h;
  const StoredSecret* key = nullptr;
  for (const auto& s : secrets) {
    if (s.name == r.consumer_key_secret) key = &s;
    if (s.name == r.consumer_key_secret || s.name == r.consumer_secret_secret) h.exists = true;
  }
  if (key == nullptr) return h;
  h.sealed_to = envelope_key_ids(key->value.view());
  for (const auto& s : secrets) {
    // Both values must be sealed alike; a mixed pair counts as sealed to nobody configured.
    if (s.name == r.consumer_secret_secret && envelope_key_ids(s.value.view()) != h.sealed_to) {
      h.sealed_to = {"(key and secret sealed differently)"};
    }
  }
  auto field = [&](const char* name) -> const std::string* {
    auto it = key->metadata.find(name);
    return it == key->metadata.end() ? nullptr : &it->second;
  };
  const std::string* fp = field(meta::kFingerprint);
  if (fp == nullptr) return h;
  h.ours = true;
  h.fingerprint = *fp;
  if (const std::string* gen = field(meta::kGeneration)) h.generation = std::atol(gen->c_str());
  TimePoint at;
  if (const std::string* s = field(meta::kRotatedAt); s && parse_timestamp(*s, at)) {
    h.rotated_at = at;
  }
  const std::string* manual = field(meta::kManual);
  h.manual = manual != nullptr && *manual == "true";
  return h;
}

const SfConsumer* find_consumer(const std::vector<SfConsumer>& consumers, std::string_view id) {
  for (const auto& c : consumers) {
    if (same_sf_id(c.id, id)) return &c;
  }
  return nullptr;
}

Result<const SfConsumer*> choose_consumer(const RotationSettings& r,
                                          const std::vector<SfConsumer>& consumers,
                                          const SalesforceEndpoint& connection,
                                          std::string* warning) {
  if (consumers.empty()) return Error::permanent("app " + r.app_id + " has no OAuth consumer");
  const SfConsumer* chosen = nullptr;
  if (!r.consumer_id.empty()) {
    chosen = find_consumer(consumers, r.consumer_id);
    if (chosen == nullptr) {
      return Error::permanent("consumer " + r.consumer_id + " is not a consumer of app " +
                              r.app_id + "; its consumers are: " + list_consumers(consumers));
    }
  } else {
    chosen = &consumers.front();
    if (consumers.size() > 1 && warning != nullptr) {
      *warning = "app " + r.app_id + " has " + std::to_string(consumers.size()) + " consumers (" +
                 list_consumers(consumers) + "); rotating the first, " + chosen->id +
                 ". Set consumer_id to choose; every other consumer of this app " +
                 "keeps its own credentials";
    }
  }
  // Rotating the ECA the connection itself authenticates with would cut off our own access.
  if (chosen->key.equals(connection.client_id)) {
    return Error::permanent("refusing to rotate app " + r.app_id +
                            ": it is the External Client App that connection \"" + r.connection +
                            "\" uses to authenticate");
  }
  return chosen;
}

std::string rerun_hint(const RotationSettings& r, const Error& e) {
  const std::string cmd = "run `eca-rotator rotate " + r.name + "`";
  if (e.kind == ErrorKind::Transient || e.kind == ErrorKind::Unknown) return cmd + " again";
  return "fix the cause above, then " + cmd + " again";
}

RotationOutcome RotationEngine::deferred(Context& c, const char* step, std::string detail) {
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::Deferred;
  o.detail = std::move(detail);
  d_.log->info(c.r.name, step, o.detail);
  return o;
}

RotationOutcome RotationEngine::fail(Context& c, const char* step, Error e, Impact impact,
                                     std::string next) {
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::Failed;
  o.detail = e.describe();
  o.impact = impact_text(impact);
  // Bookkeeping for `status` and the scheduler (before next_step, which plans from it).
  // Failing to save it is tolerated: it must not hide the original error, which follows.
  if (c.books_failures) {
    if (auto rec = d_.state->load(c.r.name); rec) {
      RotationRecord r = rec->value_or(RotationRecord{});
      r.name = c.r.name;
      r.last_attempt = d_.clock->now();
      r.last_error = o.detail;
      r.consecutive_failures += 1;
      r.retry_at.reset();  // a daemon's next_step plans the retry anew
      if (auto st = d_.state->save(r); !st) {
        d_.log->warn(c.r.name, step, "could not record the failure: " + st.error().describe());
      }
    }
  }
  if (next.empty()) next = d_.next_step ? d_.next_step(c.r, e) : rerun_hint(c.r, e);
  o.next = std::move(next);
  LogEvent ev;
  ev.level = LogLevel::Error;
  ev.rotation = c.r.name;
  ev.step = step;
  ev.message = o.detail;
  ev.request_id = e.request_id;
  ev.impact = o.impact;
  ev.next = o.next;
  d_.log->log(ev);
  o.error = std::move(e);
  return o;
}

// Removing the journal record of a rotation that ended without completing. A failure is
// tolerated: the next run finds the record and checks it against Salesforce before acting.
void RotationEngine::drop_journal(Context& c, const char* step) {
  if (auto st = d_.journal->clear(c.r.name); !st) {
    d_.log->warn(c.r.name, step,
                 "could not remove the journal record (" + st.error().describe() +
                     "); the next run checks it against Salesforce again");
  }
}

RotationOutcome RotationEngine::rotate(const RotationSettings& r, bool manual, bool only_if_due) {
  Context c(r, manual, only_if_due);
  auto it = d_.salesforce.find(r.connection);
  if (it == d_.salesforce.end() || it->second == nullptr) {
    return fail(c, "inspect",
                Error::permanent("connection \"" + r.connection + "\" is not configured"),
                Impact::NothingChanged);
  }
  c.sf = it->second;

  // A journal entry means an earlier run stopped mid-rotation: roll it forward first.
  auto entry = d_.journal->read(r.name);
  if (!entry) return fail(c, "recover", entry.error(), Impact::JournalUnreadable);
  if (!entry->has_value()) return rotate_fresh(c);
  if ((*entry)->config_fingerprint != rotation_config_fingerprint(r)) {
    d_.log->warn(r.name, "recover",
                 "the journal entry was written under different settings for this rotation "
                 "(app, consumer or secret mapping changed); completing it with the "
                 "settings it was written for is impossible, so it is checked against "
                 "Salesforce as it is now");
  }
  c.recovering = true;
  return resume(c, **entry);
}

// Steps 1-8 of DESIGN.md §3 for a rotation with no journal entry.
RotationOutcome RotationEngine::rotate_fresh(Context& c) {
  Inspection in;
  if (auto stop = inspect(c, in)) return std::move(*stop);
  if (auto stop = not_due_yet(c, in)) return std::move(*stop);
  if (auto stop = reconcile(c, in)) return std::move(*stop);
  JournalEntry entry;
  if (auto stop = stage_and_journal(c, in, entry)) return std::move(*stop);
  return finish(c, entry, /*resumed=*/false, /*promoted=*/false);
}

// 1. Inspect: the consumer (R2), its staged slot (R4) and what Infisical holds.
RotationEngine::Stop RotationEngine::inspect(Context& c, Inspection& in) {
  const RotationSettings& r = c.r;
  auto consumers = c.sf->consumers(r.app_id);
  if (!consumers) return fail(c, "inspect", consumers.error(), Impact::NothingChanged);
  std::string warning;
  auto picked = choose_consumer(r, *consumers, c.sf->endpoint(), &warning);
  if (!picked) return fail(c, "inspect", picked.error(), Impact::NothingChanged);
  if (!warning.empty()) d_.log->warn(r.name, "inspect", warning);
  c.consumer_id = picked.value()->id;
  in.primary_key = picked.value()->key.clone();
  in.primary_fp = fingerprint(in.primary_key.view());

  auto slot = c.sf->staged(r.app_id, c.consumer_id);
  if (!slot) return fail(c, "inspect", slot.error(), Impact::NothingChanged);
  in.slot = std::move(slot.value());

  if (auto listed = first_look(c, in)) {
    in.held = std::move(*listed);
  } else {
    auto held = d_.infisical->list(r.secret_path);
    if (!held) return fail(c, "inspect", held.error(), Impact::NothingChanged);
    in.held = held_pair(r, *held);
  }
  c.held_exists = in.held.exists;
  if (in.held.exists && !in.held.ours && !r.adopt) {
    return fail(c, "inspect",
                Error::permanent("secrets " + r.consumer_key_secret + "/" +
                                 r.consumer_secret_secret + " at " + r.secret_path +
                                 " exist but were not written by eca-rotator; set adopt = true "
                                 "on this rotation to take them over (their values will be "
                                 "replaced at the next rotation)"),
                Impact::NothingChanged);
  }
  return std::nullopt;
}

// What the burst's shared listing shows for this rotation, when it can stand in for the
// rotation's own list: only if it can lead to no other decision than a fresh list would.
//  - fresh: younger than SharedListing::kMaxAge, both mapped secrets there once;
//  - it shows the pair this agent last published or adopted: the local record's
//    fingerprint, generation and recipients. A first rotation, a rebuilt VM (no record), a
//    record that failed to save, or another agent's publish since, all disagree;
//  - that pair is Salesforce's primary right now (read after the listing): a rotation by
//    another agent promotes before it publishes, so a publish the listing missed shows here.
// Anything else, and a rotation rolling a journal entry forward, lists its own folder.
std::optional<HeldPair> RotationEngine::first_look(Context& c, const Inspection& in) {
  if (listing_ == nullptr || c.recovering) return std::nullopt;
  auto held = listing_->first_look(c.r);
  if (!held || !held->ours || !held->holds(in.primary_fp)) return std::nullopt;
  auto rec = d_.state->load(c.r.name);
  if (!rec || !rec->has_value()) return std::nullopt;
  const RotationRecord& mine = **rec;
  std::string sealed_to = held->sealed_to.empty() ? "none" : "x25519-sealedbox:";
  for (std::size_t i = 0; i < held->sealed_to.size(); ++i) {
    sealed_to += (i ? "," : "") + held->sealed_to[i];
  }
  if (mine.fingerprint != held->fingerprint || mine.generation != held->generation ||
      mine.sealed_for != sealed_to) {
    return std::nullopt;
  }
  listing_->used();
  return held;
}

// The shared record of when this ECA was last rotated lives with the secrets, so an agent
// with an empty state directory, or a second agent on the same config, sees it.
RotationEngine::Stop RotationEngine::not_due_yet(Context& c, const Inspection& in) {
  if (!c.only_if_due || !in.held.holds(in.primary_fp) || !in.held.rotated_at) return std::nullopt;
  ScheduleInput s;
  s.last_rotated = in.held.rotated_at;
  s.last_manual = in.held.manual;
  auto due = next_due(c.r, s, d_.clock->now());
  if (!due || *due <= d_.clock->now()) return std::nullopt;
  if (sealed_for_others(in.held)) return reseal(c, in, *due);
  return not_due(c, in.held, *due);
}

// Whether the held pair is sealed to another set of keys than the config names (a
// consumer's key added or removed, encryption turned on or off).
bool RotationEngine::sealed_for_others(const HeldPair& held) const {
  std::vector<std::string> want = d_.sealer ? d_.sealer->key_ids() : std::vector<std::string>{};
  std::vector<std::string> have = held.sealed_to;
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  return want != have;
}

// Infisical holds the current pair, sealed for other recipients than configured: publish
// the same pair again (re-read from Salesforce, R3) with its generation and rotation time,
// so that nothing changes at Salesforce and the schedule stays as it was.
RotationOutcome RotationEngine::reseal(Context& c, const Inspection& in, TimePoint due) {
  const RotationSettings& r = c.r;
  auto names = [](const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out.empty() ? std::string("none (plain values)") : out;
  };
  const std::string want = names(d_.sealer ? d_.sealer->key_ids() : std::vector<std::string>{});
  d_.log->info(r.name, "reconcile",
               "the published pair is sealed to keys " + names(in.held.sealed_to) +
                   " but the config names " + want +
                   "; publishing the same pair again for them, without rotating");
  auto pair = c.sf->read_primary(r.app_id, c.consumer_id);
  if (!pair) {
    return fail(c, "reconcile",
                with_context(pair.error(),
                             "cannot re-read the current pair (R3) to seal it for "
                             "the configured recipients: "),
                Impact::ResealUnpublished);
  }
  if (!pair->key.equals(in.primary_key.view())) {
    return fail(c, "reconcile", Error::transient("the primary key changed while it was being read"),
                Impact::PrimaryChangedWhileRead);
  }
  const HeldPair& held = in.held;
  if (auto st = publish(c, pair->key, pair->secret, held.generation, held.manual, held.rotated_at);
      !st) {
    return fail(c, "publish", st.error(), Impact::ResealUnpublished);
  }
  adopt_shared_record(c, held);  // the local record learns the keys it is sealed to now
  RotationOutcome o;
  o.name = r.name;
  o.result = RotationResult::Published;
  o.generation = held.generation;
  o.fingerprint = held.fingerprint;
  o.detail = "published generation " + std::to_string(held.generation) + " again, sealed to " +
             want + "; nothing changed at Salesforce; next rotation due " + format_utc(due);
  d_.log->info(r.name, "commit", o.detail);
  return o;
}

// 2. Reconcile, then revoke previous-previous: never revoke a credential Infisical holds.
RotationEngine::Stop RotationEngine::reconcile(Context& c, const Inspection& in) {
  const SfStaged* rotated = find_state(in.slot, StagedState::Rotated);
  const SfStaged* active = find_state(in.slot, StagedState::Active);
  if (in.held.ours && !in.held.holds(in.primary_fp)) return republish_primary(c, in, rotated);
  // From here on the rotation changes Salesforce (deletes, then R5): prove first.
  if (auto stop = prove_publish_path(c)) return stop;
  if (active != nullptr) {
    if (auto stop = clear_foreign_staged(c, *active)) return stop;
  }
  if (rotated != nullptr) {
    if (auto stop = revoke_previous_previous(c, in, *rotated)) return stop;
  }
  return recheck_primary(c, in);
}

// 3. Prove the publish path before Salesforce is touched: a secrets list cannot, since it
// answers 200 with nothing both for an unknown environment and for a path the identity may
// not read, and only the write itself shows a missing permission or an approval policy.
//  (a) the environment (and project) exist: a folder list at "/";
//  (b) the folder exists: created when inspect saw nothing there (one request creates the
//      missing parents; never two in parallel for one rotation);
//  (c) the identity may write there and no approval policy holds the write: one batch upsert
//      of the write-check secret, a fixed non-secret value next to the mapped secrets. It is
//      written at every rotation that goes on to stage (one small version per rotation):
//      skipping it when it already exists would prove nothing about today's role.
RotationEngine::Stop RotationEngine::prove_publish_path(Context& c) {
  const RotationSettings& r = c.r;
  // The cause first (what `status` shows when it truncates), then what was being proven.
  auto cannot = [&](Error e, const std::string& how) {
    e.message += " (" + how + ", before staging: Infisical would not take the new pair at " +
                 r.secret_path + ", so nothing was changed at Salesforce)";
    return fail(c, "prove", std::move(e), Impact::NothingChanged);
  };
  if (auto st = d_.infisical->probe_environment(); !st) {
    return cannot(st.error(), "found by looking up the environment");
  }
  if (!c.held_exists && r.secret_path != "/") {
    // Secret writes never create folders: create it now rather than learn it from a failed
    // upsert (the upsert still creates it on "Folder not found").
    if (auto st = d_.infisical->create_folder(r.secret_path); !st) {
      return cannot(st.error(), "found by creating the folder");
    }
  }
  std::vector<SecretWrite> check(1);
  check[0].name = kWriteCheckSecret;
  check[0].value = Secret(std::string_view(kWriteCheckValue));
  check[0].metadata = {{meta::kRotation, r.name}};
  if (auto st = d_.infisical->upsert(r.secret_path, check); !st) {
    return cannot(st.error(),
                  "found by writing the check secret " + std::string(kWriteCheckSecret));
  }
  c.held_exists = true;  // the folder exists now
  return reserve_publish(c);
}

// (d) the publish's requests are set aside in the shared request budget, so that once
// Salesforce has promoted the new pair nothing makes the publish wait for Infisical's
// limits (a rotation that cannot have them now waits here, before anything changed).
RotationEngine::Stop RotationEngine::reserve_publish(Context& c) {
  if (d_.infisical_budget == nullptr || !d_.infisical_budget->limits().any()) return std::nullopt;
  auto reservation = d_.infisical_budget->reserve(publish_request_cost());
  if (!reservation) {
    Error e = reservation.error();
    e.message +=
        " (before staging: the publish could not be given its Infisical requests, "
        "so nothing was changed at Salesforce; check [infisical] rate_limits, or "
        "allow a longer wait with `rotate --max-wait`)";
    return fail(c, "prove", std::move(e), Impact::NothingChanged);
  }
  c.publish_budget = std::move(*reservation);
  return std::nullopt;
}

// Infisical holds the Rotated pair (an earlier run promoted but never published) or a pair
// Salesforce no longer knows (drift). Either way the current primary must be published
// before anything is revoked or staged.
RotationOutcome RotationEngine::republish_primary(Context& c, const Inspection& in,
                                                  const SfStaged* rotated) {
  const RotationSettings& r = c.r;
  const bool held_rotated = rotated != nullptr && in.held.holds(fingerprint(rotated->key.view()));
  d_.log->warn(r.name, "reconcile",
               held_rotated ? "Infisical still holds the previous pair (an earlier rotation was "
                              "promoted but not published); publishing the current pair first"
                            : "Infisical holds a pair Salesforce no longer knows as primary or "
                              "rotated (changed by hand?); re-publishing the current primary pair");
  auto pair = c.sf->read_primary(r.app_id, c.consumer_id);
  if (!pair) {
    return fail(
        c, "reconcile",
        with_context(pair.error(), "cannot re-read the current primary pair (R3) to publish it: "),
        held_rotated ? Impact::HeldRotatedUnreadable : Impact::DriftUnreadable);
  }
  if (!pair->key.equals(in.primary_key.view())) {
    return fail(c, "reconcile", Error::transient("the primary key changed while it was being read"),
                Impact::PrimaryChangedWhileRead);
  }
  const long gen = in.held.generation + 1;
  if (auto st = publish(c, pair->key, pair->secret, gen, c.manual); !st) {
    return fail(c, "publish", st.error(),
                held_rotated ? Impact::HeldRotatedUnpublished : Impact::DriftUnpublished);
  }
  if (auto st = commit(c, in.primary_fp, gen, c.manual); !st) {
    return fail(c, "commit", st.error(), Impact::PublishedNotRecorded);
  }
  RotationOutcome o;
  o.name = r.name;
  o.result = RotationResult::Published;
  o.generation = gen;
  o.fingerprint = in.primary_fp;
  o.detail = "published the current primary pair (generation " + std::to_string(gen) + ")";
  d_.log->info(r.name, "commit", o.detail);
  return o;
}

// An Active staged credential we have no journal for: another agent's rotation in progress
// if recent, abandoned otherwise. Nobody can hold it (it was never published).
RotationEngine::Stop RotationEngine::clear_foreign_staged(Context& c, const SfStaged& active) {
  TimePoint created;
  const bool known_age = parse_timestamp(active.created_date, created);
  const auto age = d_.clock->now() - created;
  if (known_age && age < std::chrono::minutes(d_.config->agent.stale_staged_minutes) &&
      age > -std::chrono::minutes(5)) {
    return deferred(c, "reconcile",
                    "another rotation is in progress (a credential was staged at " +
                        active.created_date + " by someone else); checking again later");
  }
  d_.log->warn(c.r.name, "reconcile",
               "deleting an abandoned staged credential (staged at " + active.created_date +
                   ", never promoted or published)");
  if (auto st = c.sf->revoke(c.r.app_id, c.consumer_id, active.id); !st) {
    return fail(c, "reconcile", st.error(), Impact::AbandonedStagedRemains);
  }
  return std::nullopt;
}

// Generation N-1: Infisical holds the primary (or nothing of ours yet), so nobody should
// still be handed this one.
RotationEngine::Stop RotationEngine::revoke_previous_previous(Context& c, const Inspection& in,
                                                              const SfStaged& rotated) {
  TimePoint expires;
  if (!in.held.ours && parse_timestamp(rotated.expiration_date, expires)) {
    // Nothing of ours in Infisical yet, but a credential was promoted: if that happened
    // moments ago, another agent sharing this config is between its promote and its
    // publish. Salesforce expires a Rotated credential ~30 days after the promote.
    const auto promoted_at = expires - std::chrono::hours(24 * 30);
    const auto window = std::chrono::minutes(d_.config->agent.stale_staged_minutes);
    if (promoted_at > d_.clock->now() - window) {
      return deferred(c, "reconcile",
                      "a credential was promoted moments ago by someone else and is not yet "
                      "published; checking again later");
    }
  }
  if (auto st = c.sf->revoke(c.r.app_id, c.consumer_id, rotated.id); !st) {
    return fail(c, "revoke", st.error(), Impact::PreviousPreviousRemains);
  }
  d_.log->info(c.r.name, "revoke",
               "deleted the previous-previous credential (" +
                   short_fingerprint(fingerprint(rotated.key.view())) + ")");
  return std::nullopt;
}

// Agents sharing a config may both have found this rotation due. A promote by another agent
// changes the primary key before it publishes, and an Active credential it staged makes our
// R5 fail: so looking at the primary once more, right before taking the slot, means at most
// one of us rotates. Without that look the guarantee is gone, so a failed look stops here.
RotationEngine::Stop RotationEngine::recheck_primary(Context& c, const Inspection& in) {
  auto again = c.sf->consumers(c.r.app_id);
  if (!again) {
    return fail(c, "reconcile",
                Error::transient("could not look at the primary credential again right before "
                                 "staging (" +
                                 again.error().describe() + ")"),
                Impact::NothingStaged);
  }
  const SfConsumer* now = find_consumer(*again, c.consumer_id);
  if (now == nullptr || !now->key.equals(in.primary_key.view())) {
    return deferred(c, "reconcile",
                    "the primary credential changed meanwhile (another agent is rotating); "
                    "checking again later");
  }
  return std::nullopt;
}

// 3. Stage (R5), announced in the journal first so a crash mid-call leaves no orphan, and
// 4. journal the new pair before anything depends on it.
RotationEngine::Stop RotationEngine::stage_and_journal(Context& c, const Inspection& in,
                                                       JournalEntry& entry) {
  const RotationSettings& r = c.r;
  const long generation = std::max(in.held.generation, 0L) + 1;
  const JournalEntry intent =
      journal_entry(r, c.consumer_id, generation, c.manual, JournalPhase::Intent, d_.clock->now());
  if (auto st = d_.journal->write(intent); !st) {
    return fail(c, "journal", with_context(st.error(), "cannot write the journal: "),
                Impact::NothingStaged);
  }
  auto staged = c.sf->stage(r.app_id, c.consumer_id);
  if (!staged) return stage_failed(c, staged.error());
  SfStaged& fresh = staged.value();
  if (fresh.id.empty()) {
    // The answer carried no id: the slot read tells us. If that read fails too, the pair is
    // journaled without an id below and the roll-forward finds it by its key.
    if (auto again = c.sf->staged(r.app_id, c.consumer_id); again) {
      for (auto& s : again.value()) {
        if (s.key.equals(fresh.key.view())) fresh.id = s.id;
      }
    }
  }
  entry =
      journal_entry(r, c.consumer_id, generation, c.manual, JournalPhase::Staged, d_.clock->now());
  entry.staged_id = fresh.id;
  entry.key = fresh.key.clone();
  entry.secret = fresh.secret.clone();
  if (auto st = d_.journal->write(entry); !st) return journal_failed(c, fresh.id, st.error());
  if (entry.staged_id.empty()) {
    return fail(c, "stage",
                Error::transient("Salesforce did not say which id the new staged credential has"),
                Impact::StagedNotPromoted);
  }
  return std::nullopt;
}

// R5 failed. The answer may have been lost after Salesforce created the credential
// (Unknown), or the slot may be occupied after all: look before deciding.
RotationEngine::Stop RotationEngine::stage_failed(Context& c, Error e) {
  auto again = c.sf->staged(c.r.app_id, c.consumer_id);
  if (!again) {
    // Whether R5 created something is unknown: the intent record stays, so the next run
    // deletes whatever Active credential appeared after it.
    return fail(c, "stage", std::move(e), Impact::StageUncertain);
  }
  const SfStaged* other = find_state(again.value(), StagedState::Active);
  if (other != nullptr && e.kind != ErrorKind::Unknown) {
    // Refused because the slot is taken by a credential staged since we looked: another
    // agent sharing this config got there first.
    drop_journal(c, "stage");
    return deferred(c, "stage", "another rotation staged a credential first; checking again later");
  }
  if (other != nullptr) {
    // Our request may have created it before the answer was lost. It was never handed to
    // anyone, so deleting it is safe whoever made it; if that fails, the intent stays.
    if (auto st = c.sf->revoke(c.r.app_id, c.consumer_id, other->id); !st) {
      return fail(c, "stage", std::move(e), Impact::StageUncertain);
    }
  }
  drop_journal(c, "stage");
  return fail(c, "stage", std::move(e), Impact::NothingStaged);
}

// The new pair could not be journaled: never promote or publish a pair that exists only in
// memory. Delete it; if that fails too, the intent record (still on disk, since journal
// writes replace records atomically) leads the next run to it.
RotationEngine::Stop RotationEngine::journal_failed(Context& c, const std::string& staged_id,
                                                    Error e) {
  e = with_context(std::move(e), "cannot write the journal: ");
  if (auto rv = c.sf->revoke(c.r.app_id, c.consumer_id, staged_id); !rv) {
    return fail(c, "journal", std::move(e), Impact::StagedNotJournaledRemains);
  }
  drop_journal(c, "journal");
  return fail(c, "journal", std::move(e), Impact::StagedNotJournaledDeleted);
}

// 5-8: verify and promote (unless already promoted), publish (unless a resumed run finds it
// published already) and commit.
RotationOutcome RotationEngine::finish(Context& c, JournalEntry& entry, bool resumed,
                                       bool promoted) {
  if (!promoted) {
    if (auto stop = verify(c, entry)) return std::move(*stop);
    if (auto stop = promote(c, entry)) return std::move(*stop);
  }
  const std::string fp = fingerprint(entry.key.view());
  // A pair staged by this run cannot be in Infisical yet (inspect listed the folder moments
  // ago and nobody else knows the pair); only a resumed entry may have been published.
  if (!resumed || !infisical_holds(c, fp)) {
    if (auto st = publish(c, entry.key, entry.secret, entry.generation, entry.manual); !st) {
      return fail(c, "publish", st.error(), Impact::PromotedNotPublished);
    }
  }
  if (auto st = commit(c, fp, entry.generation, entry.manual); !st) {
    return fail(c, "commit", st.error(), Impact::PublishedNotRecorded);
  }
  if (auto st = d_.journal->clear(c.r.name); !st) {
    return fail(c, "commit", st.error(), Impact::PublishedNotRecorded);
  }
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::Rotated;
  o.generation = entry.generation;
  o.fingerprint = fp;
  o.detail = "rotated to generation " + std::to_string(entry.generation) + " (key " +
             short_fingerprint(fp) + ")" + (resumed ? ", completed after an interruption" : "");
  d_.log->info(c.r.name, "commit", o.detail);
  return o;
}

// 5. Verify: a pair that does not authenticate is never promoted or published.
RotationEngine::Stop RotationEngine::verify(Context& c, const JournalEntry& entry) {
  Status verified = Error::permanent("not attempted");
  for (int attempt = 0; attempt < std::max(1, d_.verify_attempts); ++attempt) {
    if (attempt > 0 && d_.sleep) d_.sleep(std::chrono::milliseconds(2000 << (attempt - 1)));
    verified = c.sf->verify(entry.key, entry.secret);
    if (verified || verified.error().kind == ErrorKind::Permanent) break;
  }
  if (verified) {
    d_.log->info(c.r.name, "verify", "the new credential authenticates");
    return std::nullopt;
  }
  if (verified.error().kind != ErrorKind::Auth) {
    // Journal kept: verified again on the next run.
    return fail(c, "verify", verified.error(), Impact::StagedNotPromoted);
  }
  Error e = verified.error();
  e.message = "the new credential did not authenticate (" + e.message + ")";
  if (auto rv = c.sf->revoke(entry.app_id, entry.consumer_id, entry.staged_id); !rv) {
    // Journal kept, so the next run tries the deletion again.
    return fail(c, "verify", std::move(e), Impact::UnverifiedNotDeleted);
  }
  drop_journal(c, "verify");
  return fail(c, "verify", std::move(e), Impact::UnverifiedDeleted);
}

// 6. Promote (R7): generation N becomes Rotated and keeps working.
RotationEngine::Stop RotationEngine::promote(Context& c, JournalEntry& entry) {
  auto st = c.sf->promote(entry.app_id, entry.consumer_id, entry.staged_id);
  if (!st) {
    // The answer may be lost after Salesforce applied it: ask before deciding.
    auto again = c.sf->consumers(entry.app_id);
    const SfConsumer* con = again ? find_consumer(*again, entry.consumer_id) : nullptr;
    if (con == nullptr || !con->key.equals(entry.key.view())) {
      return fail(c, "promote", st.error(), Impact::StagedNotPromoted);
    }
  }
  d_.log->info(c.r.name, "promote",
               "the new credential is primary; the previous one stays valid until the next "
               "rotation");
  // Recorded so that a resumed run never promotes again. Failing to record it is tolerated:
  // the Staged record still leads a resumed run to R2, where the promote shows.
  entry.phase = JournalPhase::Promoted;
  if (auto jst = d_.journal->write(entry); !jst) {
    d_.log->warn(c.r.name, "promote",
                 "could not record the promote in the journal (" + jst.error().describe() +
                     "); a resumed run learns it from Salesforce");
  }
  return std::nullopt;
}

// Whether Infisical already holds the pair with this key fingerprint. A failed look is
// tolerated: publishing the same pair again is harmless, and the publish reports its own
// failure.
bool RotationEngine::infisical_holds(Context& c, const std::string& fp) {
  auto held = d_.infisical->list(c.r.secret_path);
  return held && held_pair(c.r, *held).holds(fp);
}

// Recovery on start: roll a journal entry forward, with Salesforce as the ground truth for
// how far the interrupted run got.
RotationOutcome RotationEngine::resume(Context& c, JournalEntry& entry) {
  const RotationSettings& r = c.r;
  d_.log->info(r.name, "recover", "completing an interrupted rotation found in the journal");
  c.consumer_id = entry.consumer_id;
  auto consumers = c.sf->consumers(entry.app_id);
  if (!consumers) return fail(c, "recover", consumers.error(), interrupted(entry));
  const SfConsumer* con = find_consumer(*consumers, entry.consumer_id);
  if (con == nullptr) {
    return fail(c, "recover",
                Error::permanent("consumer " + entry.consumer_id + " of app " + entry.app_id +
                                 " from the journal no longer exists; remove the journal "
                                 "record after checking the app"),
                Impact::JournalConsumerGone);
  }
  if (entry.phase == JournalPhase::Intent) {
    if (auto stop = discard_intent(c, entry)) return std::move(*stop);
    Context fresh(c.r, c.manual, c.only_if_due);
    fresh.sf = c.sf;
    fresh.recovering = true;
    return rotate_fresh(fresh);
  }
  const bool promoted = con->key.equals(entry.key.view());
  if (!promoted && entry.phase == JournalPhase::Promoted) {
    // Promoted by the interrupted run, and since replaced as primary by another promote:
    // promoting it again is impossible, and publishing it would hand out an older pair.
    drop_journal(c, "recover");
    return fail(c, "recover",
                Error::transient("the journaled credential was promoted and has since been "
                                 "replaced as primary at Salesforce"),
                Impact::JournaledPromotedSuperseded);
  }
  if (!promoted) {
    if (auto stop = find_journaled_staged(c, entry)) return std::move(*stop);
  }
  return finish(c, entry, /*resumed=*/true, promoted);
}

// We stopped around R5. An Active credential staged after the intent is ours and was never
// handed to anyone: delete it, so the rotation can start over.
RotationEngine::Stop RotationEngine::discard_intent(Context& c, const JournalEntry& intent) {
  auto slot = c.sf->staged(intent.app_id, intent.consumer_id);
  if (!slot) return fail(c, "recover", slot.error(), Impact::IntentInterrupted);
  TimePoint intent_at;
  const bool have_time = parse_timestamp(intent.written_at, intent_at);
  for (const auto& s : *slot) {
    TimePoint created;
    if (s.state == StagedState::Active &&
        (!have_time || !parse_timestamp(s.created_date, created) ||
         created >= intent_at - std::chrono::minutes(5))) {
      if (auto st = c.sf->revoke(intent.app_id, intent.consumer_id, s.id); !st) {
        return fail(c, "recover", st.error(), Impact::IntentInterrupted);
      }
      d_.log->info(c.r.name, "recover", "deleted the credential staged before the interruption");
    }
  }
  if (auto st = d_.journal->clear(c.r.name); !st) {
    return fail(c, "recover", st.error(), Impact::IntentInterrupted);
  }
  return std::nullopt;
}

// Not promoted yet: the journaled credential must still be in the slot, Active.
RotationEngine::Stop RotationEngine::find_journaled_staged(Context& c, JournalEntry& entry) {
  auto slot = c.sf->staged(entry.app_id, entry.consumer_id);
  if (!slot) return fail(c, "recover", slot.error(), interrupted(entry));
  const SfStaged* ours = nullptr;
  for (const auto& s : *slot) {
    if (s.key.equals(entry.key.view()) && s.state == StagedState::Active) ours = &s;
  }
  if (ours == nullptr) {
    // Gone (deleted, expired, or replaced): nothing depends on it, since it was never
    // promoted or published.
    drop_journal(c, "recover");
    return fail(c, "recover",
                Error::transient("the journaled staged credential no longer exists at "
                                 "Salesforce"),
                Impact::JournaledStagedGone);
  }
  if (entry.staged_id.empty()) entry.staged_id = ours->id;
  return std::nullopt;
}

const char* result_name(RotationResult r) {
  switch (r) {
    case RotationResult::Rotated:
      return "rotated";
    case RotationResult::Published:
      return "published";
    case RotationResult::NotDue:
      return "not-due";
    case RotationResult::Deferred:
      return "deferred";
    case RotationResult::Revoked:
      return "revoked";
    case RotationResult::Failed:
      return "failed";
  }
  return "failed";
}

Result<Survey> RotationEngine::survey(const RotationSettings& r, bool read_infisical) {
  auto from = [](const char* service, Error e) {
    e.message = service + e.message;
    return e;
  };
  auto it = d_.salesforce.find(r.connection);
  if (it == d_.salesforce.end() || it->second == nullptr) {
    return Error::permanent("connection \"" + r.connection + "\" is not configured");
  }
  SalesforceApi& sf = *it->second;
  Survey s;
  auto consumers = sf.consumers(r.app_id);
  if (!consumers) return from("Salesforce: ", consumers.error());
  auto picked = choose_consumer(r, *consumers, sf.endpoint(), nullptr);
  if (!picked) return picked.error();
  s.consumer_id = picked.value()->id;
  s.consumers = consumers->size();
  s.primary_fp = fingerprint(picked.value()->key.view());
  auto slot = sf.staged(r.app_id, s.consumer_id);
  if (!slot) return from("Salesforce: ", slot.error());
  s.slot = std::move(slot.value());
  if (!read_infisical) return s;
  // A list answers 200 with nothing for an unknown environment: ask the folders first.
  if (auto st = d_.infisical->probe_environment(); !st) return from("Infisical: ", st.error());
  auto held = d_.infisical->list(r.secret_path);
  if (!held) return from("Infisical: ", held.error());
  s.infisical_read = true;
  s.held = held_pair(r, *held);
  if (!s.held.ours) return s;
  s.published = Survey::Published::Unknown;
  if (s.held.holds(s.primary_fp)) {
    s.published = Survey::Published::Primary;
    return s;
  }
  for (const auto& st : s.slot) {
    if (st.state == StagedState::Rotated && s.held.holds(fingerprint(st.key.view()))) {
      s.published = Survey::Published::Previous;
      s.previous_expires = st.expiration_date;
    }
  }
  return s;
}

RotationOutcome RotationEngine::revoke_previous(const RotationSettings& r) {
  Context c(r, true, false);
  c.books_failures = false;
  const std::string again =
      "run `eca-rotator revoke-previous " + r.name + " --yes` again once the cause is fixed";
  auto it = d_.salesforce.find(r.connection);
  if (it == d_.salesforce.end() || it->second == nullptr) {
    return fail(c, "revoke",
                Error::permanent("connection \"" + r.connection + "\" is not configured"),
                Impact::NothingRevoked, again);
  }
  SalesforceApi& sf = *it->second;
  auto consumers = sf.consumers(r.app_id);
  if (!consumers) return fail(c, "revoke", consumers.error(), Impact::NothingRevoked, again);
  auto picked = choose_consumer(r, *consumers, sf.endpoint(), nullptr);
  if (!picked) return fail(c, "revoke", picked.error(), Impact::NothingRevoked, again);
  const SfConsumer& con = *picked.value();
  auto slot = sf.staged(r.app_id, con.id);
  if (!slot) return fail(c, "revoke", slot.error(), Impact::NothingRevoked, again);
  const SfStaged* rotated = find_state(*slot, StagedState::Rotated);
  if (rotated == nullptr) {
    return fail(c, "revoke",
                Error::permanent("there is no previous (Rotated) credential to revoke"),
                Impact::NoPreviousCredential,
                "nothing to do until the next rotation creates a previous credential");
  }
  auto held = d_.infisical->list(r.secret_path);
  if (!held) return fail(c, "revoke", held.error(), Impact::NothingRevoked, again);
  if (!held_pair(r, *held).holds(fingerprint(con.key.view()))) {
    return fail(c, "revoke",
                Error::permanent("Infisical does not hold the current primary pair, so consumers "
                                 "may still depend on the previous one; run `eca-rotator rotate " +
                                 r.name + "` first"),
                Impact::NothingRevoked,
                "run `eca-rotator rotate " + r.name + "`, then `eca-rotator revoke-previous " +
                    r.name + " --yes` if the previous credential must go before the next rotation");
  }
  if (auto st = sf.revoke(r.app_id, con.id, rotated->id); !st) {
    return fail(c, "revoke", st.error(), Impact::NothingRevoked, again);
  }
  RotationOutcome o;
  o.name = r.name;
  o.result = RotationResult::Revoked;
  o.detail = "deleted the previous credential (" +
             short_fingerprint(fingerprint(rotated->key.view())) +
             "); only the pair in Infisical authenticates now";
  d_.log->info(r.name, "revoke", o.detail);
  return o;
}

namespace {

// Read back: whether `stored` holds both written values (after the server's trimming), and,
// with `fp`, the fingerprint metadata written with them.
bool holds_writes(const std::vector<SecretWrite>& writes, const std::vector<StoredSecret>& stored,
                  const std::string* fp) {
  int matched = 0;
  for (const auto& s : stored) {
    for (const auto& w : writes) {
      if (s.name != w.name || !infisical_same_value(w.value.view(), s.value.view())) continue;
      auto m = s.metadata.find(meta::kFingerprint);
      if (fp == nullptr || (m != s.metadata.end() && m->second == *fp)) ++matched;
    }
  }
  return matched == 2;
}

}  // namespace

// 7. Publish: seal both values, one batch upsert with the metadata of step 8, read back.
Status RotationEngine::publish(Context& c, const Secret& key, const Secret& secret, long generation,
                               bool manual, std::optional<TimePoint> rotated_at) {
  const RotationSettings& r = c.r;
  const std::string fp = fingerprint(key.view());
  const std::map<std::string, std::string> md = {
      {meta::kFingerprint, fp},
      {meta::kGeneration, std::to_string(generation)},
      {meta::kRotatedAt, format_utc(rotated_at.value_or(d_.clock->now()))},
      {meta::kManual, manual ? "true" : "false"},
      {meta::kRotation, r.name},
      {meta::kEncryption, encryption_label(d_.sealer)},
  };
  std::vector<SecretWrite> writes(2);
  writes[0].name = r.consumer_key_secret;
  writes[1].name = r.consumer_secret_secret;
  writes[0].value = d_.sealer ? Secret(d_.sealer->seal(key.view())) : key.clone();
  writes[1].value = d_.sealer ? Secret(d_.sealer->seal(secret.view())) : secret.clone();
  writes[0].metadata = md;
  writes[1].metadata = md;
  if (!c.held_exists && r.secret_path != "/") {
    // Only a resumed rotation gets here (a fresh one created the folder when it proved the
    // publish path): inspect found nothing there, usually because the folder does not exist
    // yet, and secret writes never create folders. A failure here is tolerated: the upsert
    // creates the folder on "Folder not found" and reports its own failure.
    if (auto st = d_.infisical->create_folder(r.secret_path); !st) {
      d_.log->info(
          r.name, "publish",
          "creating the folder failed (" + st.error().describe() + "); the upsert creates it");
    }
  }
  std::vector<StoredSecret> echoed;
  // Spends what reserve_publish set aside (the upsert and the read-back), without waiting.
  RequestBudget::Reservation::Use reserved(c.publish_budget);
  Status st = d_.infisical->upsert(r.secret_path, writes, &echoed);
  if (!st && st.error().kind != ErrorKind::Unknown) return st;
  // An answer is not proof (approval flows, proxies, lost responses). The upsert answer
  // carries the stored values but no metadata; when it is missing or incomplete, read the
  // folder and check the metadata too.
  if (!(st && holds_writes(writes, echoed, nullptr))) {
    auto back = d_.infisical->list(r.secret_path);
    if (!back) return back.error();
    if (!holds_writes(writes, *back, &fp)) {
      if (!st) return st;
      return Error::transient("Infisical did not return the values just written at " +
                              r.secret_path + " (read-back mismatch)");
    }
  }
  d_.log->info(r.name, "publish",
               std::string("published ") + (d_.sealer ? "sealed" : "plain") + " pair to " +
                   r.secret_path + " (" + r.consumer_key_secret + ", " + r.consumer_secret_secret +
                   ")");
  return ok_status();
}

// The shared record (Infisical's metadata of the held pair) into the local one, so that a
// rebuilt VM schedules from it; only written when something differs.
void RotationEngine::adopt_shared_record(Context& c, const HeldPair& held) {
  const TimePoint rotated_at = *held.rotated_at;
  auto rec = d_.state->load(c.r.name);
  RotationRecord r = rec && rec->has_value() ? **rec : RotationRecord{};
  // Only called when the held pair is sealed as configured (see not_due_yet, reseal).
  const std::string sealed_for = encryption_label(d_.sealer);
  if (!r.last_rotated || *r.last_rotated != rotated_at || r.fingerprint != held.fingerprint ||
      r.sealed_for != sealed_for) {
    r.sealed_for = sealed_for;
    r.name = c.r.name;
    r.last_rotated = rotated_at;
    r.last_manual = held.manual;
    r.generation = held.generation;
    r.fingerprint = held.fingerprint;
    r.app_id = c.r.app_id;
    r.consumer_id = c.consumer_id;
    r.last_error.clear();
    r.consecutive_failures = 0;
    r.retry_at.reset();
    // Tolerated: this is only a local cache of what Infisical's metadata says; the next
    // run adopts it again.
    if (auto st = d_.state->save(r); !st) {
      d_.log->warn(c.r.name, "inspect",
                   "could not save the local record: " + st.error().describe());
    }
  }
}

RotationOutcome RotationEngine::not_due(Context& c, const HeldPair& held, TimePoint due) {
  adopt_shared_record(c, held);
  const TimePoint rotated_at = *held.rotated_at;
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::NotDue;
  o.generation = held.generation;
  o.fingerprint = held.fingerprint;
  o.detail = "rotated at " + format_utc(rotated_at) + " (generation " +
             std::to_string(held.generation) + "); next due " + format_utc(due);
  d_.log->info(c.r.name, "inspect", "not due: " + o.detail);
  return o;
}

// 8. Commit: the local record (the Infisical metadata went with the publish).
Status RotationEngine::commit(Context& c, const std::string& fp, long generation, bool manual) {
  RotationRecord rec;
  rec.name = c.r.name;
  rec.last_rotated = d_.clock->now();
  rec.last_attempt = rec.last_rotated;
  rec.last_manual = manual;
  rec.generation = generation;
  rec.fingerprint = fp;
  rec.app_id = c.r.app_id;
  rec.consumer_id = c.consumer_id;
  rec.sealed_for = encryption_label(d_.sealer);
  return d_.state->save(rec);
}

}  // namespace eca

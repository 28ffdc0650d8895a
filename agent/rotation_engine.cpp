#include "agent/rotation_engine.h"

#include <sodium.h>

#include <thread>

#include "agent/schedule.h"
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
  SalesforceClient* sf = nullptr;
  std::string consumer_id;
  Secret primary_key;
  std::vector<SfStaged> slot;
  bool held_exists = false;   // either mapped secret exists in Infisical
  bool held_ours = false;     // ... and carries our metadata
  std::string held_fp;
  long held_generation = 0;
};

namespace {

const SfStaged* find_state(const std::vector<SfStaged>& slot, StagedState s) {
  for (const auto& c : slot) {
    if (c.state == s) return &c;
  }
  return nullptr;
}

// What a failed step means for the credentials, by how far the protocol got.
constexpr const char* kNothingChanged = "the current credential stays valid; nothing was changed";
constexpr const char* kNothingStaged =
    "nothing was staged; the current credential stays valid and stays in Infisical";
constexpr const char* kStagedNotPromoted =
    "the new credential is staged and journaled but not promoted; the current credential stays "
    "valid and stays in Infisical; the next attempt continues with the staged one";
constexpr const char* kPromotedNotPublished =
    "the new credential is primary at Salesforce, but Infisical still holds the previous pair, "
    "which stays valid until the next rotation; the new pair stays journaled and is published "
    "on the next attempt";
constexpr const char* kPublishedNotRecorded =
    "the new pair is published and authenticates; only the local record of it was not saved, "
    "which the next attempt completes";
constexpr const char* kNothingRevoked =
    "nothing was revoked; the previous credential still authenticates";

// A journal entry from an interrupted run is being completed.
std::string interrupted_impact(const JournalEntry& entry) {
  if (entry.phase == JournalPhase::Intent) {
    return "the current credential stays valid; the interrupted rotation had staged nothing "
           "that anyone uses, and the next attempt starts it over";
  }
  return "the pair Infisical holds stays valid; the new credential of the interrupted rotation "
         "stays journaled and the next attempt completes it";
}

std::string list_consumers(const std::vector<SfConsumer>& cs) {
  std::string out;
  for (const auto& c : cs) {
    if (!out.empty()) out += ", ";
    out += c.id + (c.name.empty() ? "" : " (" + c.name + ")");
  }
  return out;
}

}  // namespace

Result<const SfConsumer*> choose_consumer(const RotationSettings& r,
                                          const std::vector<SfConsumer>& consumers,
                                          const SalesforceEndpoint& connection,
                                          std::string* warning) {
  if (consumers.empty()) return Error::permanent("app " + r.app_id + " has no OAuth consumer");
  const SfConsumer* chosen = nullptr;
  if (!r.consumer_id.empty()) {
    for (const auto& con : consumers) {
      if (same_sf_id(con.id, r.consumer_id)) chosen = &con;
    }
    if (chosen == nullptr) {
      return Error::permanent("consumer " + r.consumer_id + " is not a consumer of app " +
                              r.app_id + "; its consumers are: " + list_consumers(consumers));
    }
  } else {
    chosen = &consumers.front();
    if (consumers.size() > 1 && warning != nullptr) {
      *warning = "app " + r.app_id + " has " + std::to_string(consumers.size()) +
                 " consumers (" + list_consumers(consumers) + "); rotating the first, " +
                 chosen->id + ". Set consumer_id to choose; every other consumer of this app " +
                 "keeps its own credentials";
    }
  }
  // Rotating the ECA the connection itself authenticates with would cut off our own access.
  if (chosen->key.equals(connection.client_id)) {
    return Error::permanent("refusing to rotate app " + r.app_id +
                            ": it is the External Client App that connection \"" +
                            r.connection + "\" uses to authenticate");
  }
  return chosen;
}

RotationOutcome RotationEngine::deferred(Context& c, const char* step, std::string detail) {
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::Deferred;
  o.detail = std::move(detail);
  d_.log->info(c.r.name, step, o.detail);
  return o;
}

std::string rerun_hint(const RotationSettings& r, const Error& e) {
  const std::string cmd = "run `eca-rotator rotate " + r.name + "`";
  if (e.kind == ErrorKind::Transient || e.kind == ErrorKind::Unknown) return cmd + " again";
  return "fix the cause above, then " + cmd + " again";
}

RotationOutcome RotationEngine::fail(Context& c, const char* step, Error e, std::string impact,
                                     std::string next) {
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::Failed;
  o.detail = e.describe();
  o.impact = std::move(impact);
  // Bookkeeping for `status` and the scheduler (before next_step, which plans from it); a
  // failure to save it must not hide the original error.
  if (auto rec = d_.state->load(c.r.name); rec) {
    RotationRecord r = rec->value_or(RotationRecord{});
    r.name = c.r.name;
    r.last_attempt = d_.clock->now();
    r.last_error = o.detail;
    r.consecutive_failures += 1;
    (void)d_.state->save(r);
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

RotationOutcome RotationEngine::rotate(const RotationSettings& r, bool manual, bool only_if_due) {
  Context c(r, manual, only_if_due);
  auto it = d_.salesforce.find(r.connection);
  if (it == d_.salesforce.end() || it->second == nullptr) {
    return fail(c, "inspect",
                Error::permanent("connection \"" + r.connection + "\" is not configured"),
                kNothingChanged);
  }
  c.sf = it->second;

  // A journal entry means an earlier run stopped mid-rotation: roll it forward first.
  auto entry = d_.journal->read(r.name);
  if (!entry) {
    return fail(c, "recover", entry.error(),
                "the current credential stays valid; nothing was changed, and this rotation is "
                "paused until the journal record is repaired or removed");
  }
  if (entry->has_value()) {
    if ((*entry)->config_fingerprint != rotation_config_fingerprint(r)) {
      d_.log->warn(r.name, "recover",
                   "the journal entry was written under different settings for this rotation "
                   "(app, consumer or secret mapping changed); completing it with the "
                   "settings it was written for is impossible, so it is checked against "
                   "Salesforce as it is now");
    }
    return recover(c, **entry);
  }
  return run(c);
}

// ---------------------------------------------------------------------------------------
// Steps 1–8 for a rotation with no journal entry.
RotationOutcome RotationEngine::run(Context& c) {
  const RotationSettings& r = c.r;
  SalesforceClient& sf = *c.sf;

  // 1. Inspect: the consumer, the staged slot and what Infisical holds.
  auto consumers = sf.consumers(r.app_id);
  if (!consumers) return fail(c, "inspect", consumers.error(), kNothingChanged);
  std::string warning;
  auto picked = choose_consumer(r, *consumers, sf.endpoint(), &warning);
  if (!picked) return fail(c, "inspect", picked.error(), kNothingChanged);
  if (!warning.empty()) d_.log->warn(r.name, "inspect", warning);
  const SfConsumer* chosen = picked.value();
  c.consumer_id = chosen->id;
  c.primary_key = chosen->key.clone();

  auto slot = sf.staged(r.app_id, c.consumer_id);
  if (!slot) return fail(c, "inspect", slot.error(), kNothingChanged);
  c.slot = std::move(slot.value());

  auto held = d_.infisical->list(r.secret_path);
  if (!held) return fail(c, "inspect", held.error(), kNothingChanged);
  const StoredSecret* held_key = nullptr;
  const StoredSecret* held_secret = nullptr;
  for (const auto& s : *held) {
    if (s.name == r.consumer_key_secret) held_key = &s;
    if (s.name == r.consumer_secret_secret) held_secret = &s;
  }
  c.held_exists = held_key != nullptr || held_secret != nullptr;
  if (held_key != nullptr) {
    auto fp = held_key->metadata.find(meta::kFingerprint);
    if (fp != held_key->metadata.end()) {
      c.held_ours = true;
      c.held_fp = fp->second;
      auto gen = held_key->metadata.find(meta::kGeneration);
      if (gen != held_key->metadata.end()) c.held_generation = std::atol(gen->second.c_str());
    }
  }
  if (c.held_exists && !c.held_ours && !r.adopt) {
    return fail(c, "inspect",
                Error::permanent("secrets " + r.consumer_key_secret + "/" +
                                 r.consumer_secret_secret + " at " + r.secret_path +
                                 " exist but were not written by eca-rotator; set adopt = true "
                                 "on this rotation to take them over (their values will be "
                                 "replaced at the next rotation)"),
                kNothingChanged);
  }

  const std::string primary_fp = fingerprint(c.primary_key.view());
  if (c.only_if_due && c.held_ours && c.held_fp == primary_fp) {
    // The shared record of when this ECA was last rotated lives with the secrets, so an
    // agent with an empty state directory, or a second agent on the same config, sees it.
    TimePoint rotated_at;
    auto at = held_key->metadata.find(meta::kRotatedAt);
    auto man = held_key->metadata.find(meta::kManual);
    if (at != held_key->metadata.end() && parse_timestamp(at->second, rotated_at)) {
      ScheduleInput in;
      in.last_rotated = rotated_at;
      in.last_manual = man != held_key->metadata.end() && man->second == "true";
      auto due = next_due(r, in, d_.clock->now());
      if (due && *due > d_.clock->now()) return not_due(c, rotated_at, in.last_manual, *due);
    }
  }

  // 2. Reconcile: never revoke a credential that Infisical still holds.
  const SfStaged* rotated = find_state(c.slot, StagedState::Rotated);
  const SfStaged* active = find_state(c.slot, StagedState::Active);
  if (c.held_ours && c.held_fp != primary_fp) {
    const bool holds_rotated = rotated != nullptr && c.held_fp == fingerprint(rotated->key.view());
    // An earlier run promoted but never published (holds_rotated), or the pair was
    // changed behind our back (drift). Either way the current primary must be published
    // before anything is revoked or staged.
    d_.log->warn(r.name, "reconcile",
                 holds_rotated
                     ? "Infisical still holds the previous pair (an earlier rotation was "
                       "promoted but not published); publishing the current pair first"
                     : "Infisical holds a pair Salesforce no longer knows as primary or "
                       "rotated (changed by hand?); re-publishing the current primary pair");
    auto pair = sf.read_primary(r.app_id, c.consumer_id);
    if (!pair) {
      Error e = pair.error();
      e.message = "cannot re-read the current primary pair (R3) to publish it: " + e.message;
      return fail(c, "reconcile", std::move(e),
                  holds_rotated ? "nothing was staged; Infisical keeps the previous pair, which "
                                  "stays valid until Salesforce expires it"
                                : "nothing was staged; Infisical holds a pair that may no longer "
                                  "authenticate: rotate by hand or restore access");
    }
    if (!pair->key.equals(c.primary_key.view())) {
      return fail(c, "reconcile",
                  Error::transient("the primary key changed while it was being read"),
                  "nothing was staged or published; the primary credential stays valid");
    }
    const char* unpublished =
        holds_rotated ? "nothing was staged; Infisical still holds the previous pair, which stays "
                        "valid until Salesforce expires it; the next attempt publishes the "
                        "current primary"
                      : "nothing was staged; Infisical holds a pair that may no longer "
                        "authenticate until the next attempt publishes the current primary";
    long gen = c.held_generation + 1;
    if (auto st = publish(c, pair->key, pair->secret, gen, c.manual); !st) {
      return fail(c, "publish", st.error(), unpublished);
    }
    if (auto st = commit(c, primary_fp, gen, c.manual); !st) {
      return fail(c, "commit", st.error(), kPublishedNotRecorded);
    }
    RotationOutcome o;
    o.name = r.name;
    o.result = RotationResult::Published;
    o.generation = gen;
    o.fingerprint = primary_fp;
    o.detail = "published the current primary pair (generation " + std::to_string(gen) + ")";
    d_.log->info(r.name, "commit", o.detail);
    return o;
  }

  if (active != nullptr) {
    // An Active staged credential we have no journal for: another agent's rotation in
    // progress if recent, abandoned otherwise. Nobody can hold it (it was never published).
    TimePoint created;
    const bool known_age = parse_timestamp(active->created_date, created);
    const auto age = d_.clock->now() - created;
    if (known_age && age < std::chrono::minutes(d_.config->agent.stale_staged_minutes) &&
        age > -std::chrono::minutes(5)) {
      return deferred(c, "reconcile",
                      "another rotation is in progress (a credential was staged at " +
                      active->created_date + " by someone else); checking again later");
    }
    d_.log->warn(r.name, "reconcile",
                 "deleting an abandoned staged credential (staged at " + active->created_date +
                     ", never promoted or published)");
    if (auto st = sf.revoke(r.app_id, c.consumer_id, active->id); !st) {
      return fail(c, "reconcile", st.error(),
                  "the current credential stays valid; the abandoned staged credential (never "
                  "published) is still there and the next attempt deletes it");
    }
  }
  if (rotated != nullptr && !c.held_ours) {
    // Nothing of ours in Infisical yet, but a credential was promoted: if that happened
    // moments ago, another agent sharing this config is between its promote and its
    // publish. Salesforce expires a Rotated credential ~30 days after the promote.
    TimePoint expires;
    if (parse_timestamp(rotated->expiration_date, expires)) {
      const auto promoted_at = expires - std::chrono::hours(24 * 30);
      const auto window = std::chrono::minutes(d_.config->agent.stale_staged_minutes);
      if (promoted_at > d_.clock->now() - window) {
        return deferred(c, "reconcile",
                        "a credential was promoted moments ago by someone else and is not yet "
                        "published; checking again later");
      }
    }
  }
  if (rotated != nullptr) {
    // Generation N-1: Infisical holds the primary (or nothing of ours yet), so nobody
    // should still be handed this one.
    if (auto st = sf.revoke(r.app_id, c.consumer_id, rotated->id); !st) {
      return fail(c, "revoke", st.error(),
                  "nothing was staged; the current credential stays valid, and the one before "
                  "it keeps authenticating until the next attempt deletes it");
    }
    d_.log->info(r.name, "revoke", "deleted the previous-previous credential (" +
                                       short_fingerprint(fingerprint(rotated->key.view())) + ")");
  }

  // Agents sharing a config may both have found this rotation due. A promote by another
  // agent changes the primary key before it publishes, and an Active credential it
  // staged makes our R5 fail: so looking at the primary once more, right before taking
  // the slot, means at most one of us rotates.
  if (auto again = sf.consumers(r.app_id); again) {
    bool unchanged = false;
    for (const auto& x : *again) {
      if (x.id == c.consumer_id && x.key.equals(c.primary_key.view())) unchanged = true;
    }
    if (!unchanged) {
      return deferred(c, "reconcile",
                      "the primary credential changed meanwhile (another agent is rotating); "
                      "checking again later");
    }
  }

  // 3. Stage, announced in the journal first so a crash mid-call leaves no orphan.
  const long generation = std::max(c.held_generation, 0L) + 1;
  JournalEntry intent;
  intent.rotation = r.name;
  intent.generation = generation;
  intent.app_id = r.app_id;
  intent.consumer_id = c.consumer_id;
  intent.phase = JournalPhase::Intent;
  intent.manual = c.manual;
  intent.config_fingerprint = rotation_config_fingerprint(r);
  intent.written_at = format_utc(d_.clock->now());
  if (auto st = d_.journal->write(intent); !st) {
    Error e = st.error();
    e.message = "cannot write the journal: " + e.message;
    return fail(c, "journal", std::move(e), kNothingStaged);
  }
  auto staged = sf.stage(r.app_id, c.consumer_id);
  if (!staged) {
    // The answer may have been lost after Salesforce created it (Unknown), or the slot
    // may be occupied after all: look before deciding.
    auto again = sf.staged(r.app_id, c.consumer_id);
    const SfStaged* other = again ? find_state(again.value(), StagedState::Active) : nullptr;
    if (other != nullptr && staged.error().kind != ErrorKind::Unknown) {
      // Refused because the slot is taken by a credential staged since we looked:
      // another agent sharing this config got there first.
      (void)d_.journal->clear(r.name);
      return deferred(c, "stage",
                      "another rotation staged a credential first; checking again later");
    }
    if (other != nullptr) {
      // Our request may have created it before the answer was lost. It was never handed
      // to anyone, so deleting it is safe whoever made it.
      (void)sf.revoke(r.app_id, c.consumer_id, other->id);
    }
    (void)d_.journal->clear(r.name);
    return fail(c, "stage", staged.error(), kNothingStaged);
  }
  SfStaged& fresh = staged.value();
  if (fresh.id.empty()) {
    // The answer carried no id: the slot read tells us.
    auto again = sf.staged(r.app_id, c.consumer_id);
    if (again) {
      for (auto& s : again.value()) {
        if (s.key.equals(fresh.key.view())) fresh.id = s.id;
      }
    }
  }

  // 4. Journal the pair before anything depends on it.
  JournalEntry entry;
  entry.rotation = r.name;
  entry.generation = generation;
  entry.app_id = r.app_id;
  entry.consumer_id = c.consumer_id;
  entry.staged_id = fresh.id;
  entry.key = fresh.key.clone();
  entry.secret = fresh.secret.clone();
  entry.phase = JournalPhase::Staged;
  entry.manual = c.manual;
  entry.config_fingerprint = intent.config_fingerprint;
  entry.written_at = format_utc(d_.clock->now());
  if (auto st = d_.journal->write(entry); !st) {
    // Never promote or publish a pair that exists only in memory.
    auto rv = sf.revoke(r.app_id, c.consumer_id, fresh.id);
    (void)d_.journal->clear(r.name);
    Error e = st.error();
    e.message = "cannot write the journal: " + e.message;
    return fail(c, "journal", std::move(e),
                rv ? "the new credential could not be journaled, so the staged credential was "
                     "deleted; the current credential stays valid and stays in Infisical"
                   : "the new credential could not be journaled and deleting the staged "
                     "credential also failed; it was never published and the next run cleans "
                     "it up; the current credential stays valid and stays in Infisical");
  }
  return recover(c, entry);
}

// ---------------------------------------------------------------------------------------
// Steps 5–8, also the roll-forward of a journal entry after a crash.
RotationOutcome RotationEngine::recover(Context& c, JournalEntry& entry) {
  const RotationSettings& r = c.r;
  SalesforceClient& sf = *c.sf;
  const bool resumed = c.consumer_id.empty();  // run() fills it; a journal replay does not
  if (resumed) {
    d_.log->info(r.name, "recover", "completing an interrupted rotation found in the journal");
  }
  c.consumer_id = entry.consumer_id;

  bool promoted = false;
  if (resumed) {
    // Salesforce is the ground truth for how far the interrupted run got.
    auto consumers = sf.consumers(entry.app_id);
    if (!consumers) return fail(c, "recover", consumers.error(), interrupted_impact(entry));
    const SfConsumer* con = nullptr;
    for (const auto& x : *consumers) {
      if (same_sf_id(x.id, entry.consumer_id)) con = &x;
    }
    if (con == nullptr) {
      return fail(c, "recover",
                  Error::permanent("consumer " + entry.consumer_id + " of app " + entry.app_id +
                                   " from the journal no longer exists; remove the journal "
                                   "record after checking the app"),
                  "the interrupted rotation cannot be completed; this rotation is paused "
                  "until its journal record is removed");
    }
    if (entry.phase == JournalPhase::Intent) {
      // We stopped around R5. An Active credential staged after the intent is ours and was
      // never handed to anyone: delete it and start over.
      auto slot = sf.staged(entry.app_id, entry.consumer_id);
      if (!slot) return fail(c, "recover", slot.error(), interrupted_impact(entry));
      TimePoint intent_at;
      const bool have_time = parse_timestamp(entry.written_at, intent_at);
      for (const auto& s : *slot) {
        TimePoint created;
        if (s.state == StagedState::Active &&
            (!have_time || !parse_timestamp(s.created_date, created) ||
             created >= intent_at - std::chrono::minutes(5))) {
          if (auto st = sf.revoke(entry.app_id, entry.consumer_id, s.id); !st) {
            return fail(c, "recover", st.error(), interrupted_impact(entry));
          }
          d_.log->info(r.name, "recover", "deleted the credential staged before the interruption");
        }
      }
      if (auto st = d_.journal->clear(r.name); !st) {
        return fail(c, "recover", st.error(), interrupted_impact(entry));
      }
      Context fresh_ctx(c.r, c.manual, c.only_if_due);
      fresh_ctx.sf = c.sf;
      return run(fresh_ctx);
    }
    promoted = con->key.equals(entry.key.view());
    if (!promoted) {
      auto slot = sf.staged(entry.app_id, entry.consumer_id);
      if (!slot) return fail(c, "recover", slot.error(), interrupted_impact(entry));
      const SfStaged* ours = nullptr;
      for (const auto& s : *slot) {
        if (s.key.equals(entry.key.view()) && s.state == StagedState::Active) ours = &s;
      }
      if (ours == nullptr) {
        // Gone (deleted, expired, or replaced): nothing depends on it, since it was never
        // promoted or published.
        (void)d_.journal->clear(r.name);
        return fail(c, "recover",
                    Error::transient("the journaled staged credential no longer exists at "
                                     "Salesforce"),
                    "it was never promoted or published; the current credential stays valid "
                    "and the next attempt starts the rotation over");
      }
      if (entry.staged_id.empty()) entry.staged_id = ours->id;
    }
  }
  if (!promoted) {

    // 5. Verify: a pair that does not authenticate is never promoted.
    Status verified = Error::permanent("not attempted");
    for (int attempt = 0; attempt < std::max(1, d_.verify_attempts); ++attempt) {
      if (attempt > 0 && d_.sleep) d_.sleep(std::chrono::milliseconds(2000 << (attempt - 1)));
      verified = sf.verify(entry.key, entry.secret);
      if (verified || verified.error().kind == ErrorKind::Permanent) break;
    }
    if (!verified) {
      if (verified.error().kind == ErrorKind::Auth) {
        (void)sf.revoke(entry.app_id, entry.consumer_id, entry.staged_id);
        (void)d_.journal->clear(r.name);
        Error e = verified.error();
        e.message = "the new credential did not authenticate (" + e.message + ")";
        return fail(c, "verify", std::move(e),
                    "the new credential was deleted and never promoted; the current credential "
                    "stays valid and stays in Infisical");
      }
      // Journal kept: verified again on the next run.
      return fail(c, "verify", verified.error(), kStagedNotPromoted);
    }
    d_.log->info(r.name, "verify", "the new credential authenticates");

    // 6. Promote: generation N becomes Rotated and keeps working.
    auto st = sf.promote(entry.app_id, entry.consumer_id, entry.staged_id);
    if (!st) {
      // The answer may be lost after Salesforce applied it: ask before deciding.
      auto again = sf.consumers(entry.app_id);
      bool applied = false;
      if (again) {
        for (const auto& x : *again) {
          if (same_sf_id(x.id, entry.consumer_id) && x.key.equals(entry.key.view())) applied = true;
        }
      }
      if (!applied) {
        return fail(c, "promote", st.error(), kStagedNotPromoted);
      }
    }
    d_.log->info(r.name, "promote",
                 "the new credential is primary; the previous one stays valid until the next "
                 "rotation");
  }

  // 7. Publish (unless an interrupted run already did) and 8. commit.
  const std::string fp = fingerprint(entry.key.view());
  // A pair staged by this run cannot be in Infisical yet (inspect listed the folder moments
  // ago and nobody else knows the pair); only a replayed journal entry may have been
  // published before the interruption.
  bool already = false;
  if (resumed) {
    auto held = d_.infisical->list(r.secret_path);
    if (held) {
      for (const auto& s : *held) {
        auto m = s.metadata.find(meta::kFingerprint);
        if (s.name == r.consumer_key_secret && m != s.metadata.end() && m->second == fp) {
          already = true;
        }
      }
    }
  }
  if (!already) {
    if (auto pst = publish(c, entry.key, entry.secret, entry.generation, entry.manual); !pst) {
      return fail(c, "publish", pst.error(), kPromotedNotPublished);
    }
  }
  if (auto cst = commit(c, fp, entry.generation, entry.manual); !cst) {
    return fail(c, "commit", cst.error(), kPublishedNotRecorded);
  }
  if (auto jst = d_.journal->clear(r.name); !jst) {
    return fail(c, "commit", jst.error(), kPublishedNotRecorded);
  }

  RotationOutcome o;
  o.name = r.name;
  o.result = RotationResult::Rotated;
  o.generation = entry.generation;
  o.fingerprint = fp;
  o.detail = "rotated to generation " + std::to_string(entry.generation) + " (key " +
             short_fingerprint(fp) + ")" + (resumed ? ", completed after an interruption" : "");
  d_.log->info(r.name, "commit", o.detail);
  return o;
}

RotationOutcome RotationEngine::revoke_previous(const RotationSettings& r) {
  Context c(r, true, false);
  const std::string again =
      "run `eca-rotator revoke-previous " + r.name + " --yes` again once the cause is fixed";
  auto it = d_.salesforce.find(r.connection);
  if (it == d_.salesforce.end() || it->second == nullptr) {
    return fail(c, "revoke",
                Error::permanent("connection \"" + r.connection + "\" is not configured"),
                kNothingRevoked, again);
  }
  SalesforceClient& sf = *it->second;
  auto consumers = sf.consumers(r.app_id);
  if (!consumers) return fail(c, "revoke", consumers.error(), kNothingRevoked, again);
  auto picked = choose_consumer(r, *consumers, sf.endpoint(), nullptr);
  if (!picked) return fail(c, "revoke", picked.error(), kNothingRevoked, again);
  const SfConsumer& con = *picked.value();
  auto slot = sf.staged(r.app_id, con.id);
  if (!slot) return fail(c, "revoke", slot.error(), kNothingRevoked, again);
  const SfStaged* rotated = find_state(*slot, StagedState::Rotated);
  if (rotated == nullptr) {
    return fail(c, "revoke",
                Error::permanent("there is no previous (Rotated) credential to revoke"),
                "nothing was revoked; only the current credential exists",
                "nothing to do until the next rotation creates a previous credential");
  }
  auto held = d_.infisical->list(r.secret_path);
  if (!held) return fail(c, "revoke", held.error(), kNothingRevoked, again);
  bool holds_primary = false;
  for (const auto& s : *held) {
    auto m = s.metadata.find(meta::kFingerprint);
    if (s.name == r.consumer_key_secret && m != s.metadata.end() &&
        m->second == fingerprint(con.key.view())) {
      holds_primary = true;
    }
  }
  if (!holds_primary) {
    return fail(c, "revoke",
                Error::permanent("Infisical does not hold the current primary pair, so consumers "
                                 "may still depend on the previous one; run `eca-rotator rotate " +
                                 r.name + "` first"),
                kNothingRevoked,
                "run `eca-rotator rotate " + r.name + "`, then `eca-rotator revoke-previous " +
                    r.name + " --yes` if the previous credential must go before the next rotation");
  }
  if (auto st = sf.revoke(r.app_id, con.id, rotated->id); !st) {
    return fail(c, "revoke", st.error(), kNothingRevoked, again);
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

Status RotationEngine::publish(Context& c, const Secret& key, const Secret& secret,
                               long generation, bool manual) {
  const RotationSettings& r = c.r;
  std::map<std::string, std::string> md = {
      {meta::kFingerprint, fingerprint(key.view())},
      {meta::kGeneration, std::to_string(generation)},
      {meta::kRotatedAt, format_utc(d_.clock->now())},
      {meta::kManual, manual ? "true" : "false"},
      {meta::kRotation, r.name},
      {meta::kEncryption, d_.sealer ? "x25519-sealedbox:" + d_.sealer->key_id() : "none"},
  };
  std::vector<SecretWrite> writes(2);
  writes[0].name = r.consumer_key_secret;
  writes[1].name = r.consumer_secret_secret;
  if (d_.sealer != nullptr) {
    writes[0].value = Secret(d_.sealer->seal(key.view()));
    writes[1].value = Secret(d_.sealer->seal(secret.view()));
  } else {
    writes[0].value = key.clone();
    writes[1].value = secret.clone();
  }
  writes[0].metadata = md;
  writes[1].metadata = md;
  if (!c.held_exists && r.secret_path != "/") {
    // Inspect found nothing there, usually because the folder does not exist yet, and
    // secret writes never create folders: create it first instead of learning it from a
    // failed upsert. If this fails, the upsert still creates it on "Folder not found".
    (void)d_.infisical->create_folder(r.secret_path);
  }
  std::vector<StoredSecret> echoed;
  Status st = d_.infisical->upsert(r.secret_path, writes, &echoed);
  if (!st && st.error().kind != ErrorKind::Unknown) return st;

  // Read back: an answer is not proof (approval flows, proxies, lost responses). The
  // upsert answer carries the stored values (after the server's trimming); when it is
  // missing or incomplete, read the folder.
  auto matches = [&](const std::vector<StoredSecret>& stored, bool check_metadata) {
    int matched = 0;
    for (const auto& s : stored) {
      for (const auto& w : writes) {
        if (s.name != w.name || !infisical_same_value(w.value.view(), s.value.view())) continue;
        auto m = s.metadata.find(meta::kFingerprint);
        if (!check_metadata || (m != s.metadata.end() && m->second == md[meta::kFingerprint])) {
          ++matched;
        }
      }
    }
    return matched == 2;
  };
  if (!(st && matches(echoed, false))) {
    auto back = d_.infisical->list(r.secret_path);
    if (!back) return back.error();
    if (!matches(*back, true)) {
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

RotationOutcome RotationEngine::not_due(Context& c, TimePoint rotated_at, bool manual,
                                        TimePoint due) {
  // Adopt the shared record locally (a rebuilt VM schedules from it).
  auto rec = d_.state->load(c.r.name);
  RotationRecord r = rec && rec->has_value() ? **rec : RotationRecord{};
  if (!r.last_rotated || *r.last_rotated != rotated_at || r.fingerprint != c.held_fp) {
    r.name = c.r.name;
    r.last_rotated = rotated_at;
    r.last_manual = manual;
    r.generation = c.held_generation;
    r.fingerprint = c.held_fp;
    r.app_id = c.r.app_id;
    r.consumer_id = c.consumer_id;
    r.last_error.clear();
    r.consecutive_failures = 0;
    (void)d_.state->save(r);
  }
  RotationOutcome o;
  o.name = c.r.name;
  o.result = RotationResult::NotDue;
  o.generation = c.held_generation;
  o.fingerprint = c.held_fp;
  o.detail = "rotated at " + format_utc(rotated_at) + " (generation " +
             std::to_string(c.held_generation) + "); next due " + format_utc(due);
  d_.log->info(c.r.name, "inspect", "not due: " + o.detail);
  return o;
}

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
  return d_.state->save(rec);
}

}  // namespace eca

// RotationEngine: the dual-phase rotation protocol of DESIGN.md §3, step by
// step, over interfaces only (API clients, journal, state store, clock, logger).
//
// Guarantees it is built around:
//  - a credential is revoked only when Infisical provably holds a newer one;
//  - a new credential is journaled before anything depends on it;
//  - a pair that does not authenticate is never promoted or published;
//  - after a crash at any point, running again rolls the rotation forward.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "agent/journal.h"
#include "agent/logger.h"
#include "agent/rotation_records.h"
#include "clients/infisical_api.h"
#include "clients/infisical_client.h"  // StoredSecret, SecretWrite
#include "clients/request_budget.h"
#include "clients/salesforce_api.h"
#include "common/clock.h"
#include "crypto/envelope.h"

namespace eca {

enum class RotationResult {
  Rotated,    // a new pair was staged, verified, promoted and published
  Published,  // an earlier, unfinished rotation was completed (no new pair)
  NotDue,     // another agent rotated it within the interval
  Deferred,   // another agent is mid-rotation; try later
  Revoked,    // revoke_previous deleted the Rotated credential
  Failed,
};

// The one name of each result: the `rotate` table, the hooks' ECA_OUTCOME and the logs.
const char* result_name(RotationResult r);

struct RotationOutcome {
  std::string name;
  RotationResult result = RotationResult::Failed;
  std::string detail;  // one line for the operator; never a secret
  Error error;         // meaningful when result == Failed
  // When Failed: what the failure means for the credential ("the current credential stays
  // valid; nothing was changed") and what happens next ("retrying in 2 min ...").
  std::string impact;
  std::string next;
  long generation = 0;
  std::string fingerprint;
  // When Deferred for a reason with a known end (the org's daily API budget): the earliest
  // instant worth trying again.
  std::optional<TimePoint> not_before;
};

// The secret the engine writes, before it changes anything at Salesforce, to prove that
// Infisical takes writes at a rotation's secret_path (DESIGN.md §3 step 3). Its value is a
// fixed, non-secret text.
inline constexpr const char* kWriteCheckSecret = "ECA_ROTATOR_WRITE_CHECK";
inline constexpr const char* kWriteCheckValue =
    "written by eca-rotator to prove it may write here before it rotates; not a credential";

// Metadata keys written on the Infisical secrets.
namespace meta {
inline constexpr const char* kFingerprint = "eca-rotator.fingerprint";
inline constexpr const char* kGeneration = "eca-rotator.generation";
inline constexpr const char* kRotatedAt = "eca-rotator.rotated-at";
inline constexpr const char* kManual = "eca-rotator.manual";
inline constexpr const char* kRotation = "eca-rotator.rotation";
inline constexpr const char* kEncryption = "eca-rotator.encryption";
}  // namespace meta

struct EngineDeps {
  const Config* config = nullptr;
  InfisicalApi* infisical = nullptr;
  std::map<std::string, SalesforceApi*> salesforce;  // by connection name
  const Sealer* sealer = nullptr;                    // null when encryption mode = none
  Journal* journal = nullptr;
  RotationRecords* state = nullptr;
  const Clock* clock = nullptr;
  Logger* log = nullptr;
  // Waits between verification attempts (a new credential can take a moment to be
  // accepted everywhere). Tests pass a no-op.
  std::function<void(std::chrono::milliseconds)> sleep;
  int verify_attempts = 4;
  // What happens after a failed rotation, for the failure's log line: the daemon says when
  // it retries. Called after the failure is recorded in the state store. Unset means a
  // one-shot command: "run `eca-rotator rotate NAME` again".
  std::function<std::string(const RotationSettings&, const Error&)> next_step;
  // Infisical's request budget, shared with the transport the Infisical client sends
  // through; null or without limits: nothing is reserved.
  RequestBudget* infisical_budget = nullptr;
};

// The next step after a failed rotation when nothing retries it automatically.
std::string rerun_hint(const RotationSettings& r, const Error& e);

// What Infisical holds for a rotation, read from the metadata of the mapped key secret (the
// agent cannot read sealed values back, so the fingerprint is how it knows which pair).
struct HeldPair {
  bool exists = false;      // either mapped secret exists
  bool ours = false;        // the key secret carries eca-rotator's fingerprint
  std::string fingerprint;  // of the consumer key it holds; empty unless `ours`
  long generation = 0;
  std::optional<TimePoint> rotated_at;
  bool manual = false;
  // The key ids the values are sealed to, in envelope order; empty for plain values.
  std::vector<std::string> sealed_to;
  // Whether it provably holds the pair whose key has fingerprint `fp`.
  bool holds(const std::string& fp) const { return ours && fingerprint == fp; }
};
HeldPair held_pair(const RotationSettings& r, const std::vector<StoredSecret>& secrets);
// The eca-rotator.encryption metadata value: "x25519-sealedbox:<kid>[,<kid>…]" or "none".
std::string encryption_label(const Sealer* sealer);

// A read-only look at one rotation: step 1 of §3 with nothing written, booked or logged,
// for `validate --online` and `status --online`.
struct Survey {
  std::string consumer_id;
  std::size_t consumers = 0;  // how many the app has
  std::string primary_fp;
  std::vector<SfStaged> slot;
  bool infisical_read = false;  // false when asked not to read Infisical
  HeldPair held;
  // Which Salesforce credential the pair in Infisical is, by fingerprint (sealed values are
  // never read back).
  enum class Published { Nothing, Primary, Previous, Unknown };
  Published published = Published::Nothing;
  std::string previous_expires;  // Published::Previous: Salesforce's expiration date or empty
};

// The consumer with this id (15- or 18-character form), or null.
const SfConsumer* find_consumer(const std::vector<SfConsumer>& consumers, std::string_view id);

class SharedListing;

class RotationEngine {
 public:
  // How far a failed rotation got, which says what the failure means for the credentials
  // (one table of operator texts in the .cpp).
  enum class Impact : int;

  explicit RotationEngine(EngineDeps deps) : d_(std::move(deps)) {}

  // Runs the protocol once for `r` (rolling forward any journal entry first).
  // `manual` is recorded so the schedule can add a day after an off-schedule rotation.
  // With `only_if_due`, a rotation whose Infisical metadata shows it was rotated within the
  // interval (by this agent or another sharing the config) is left alone (NotDue).
  RotationOutcome rotate(const RotationSettings& r, bool manual, bool only_if_due = false);

  // Looks without touching: errors say which service failed ("Salesforce: ..." or
  // "Infisical: ..."). With read_infisical false (its login already failed: retrying it at
  // once risks the identity's lockout) only Salesforce is read.
  Result<Survey> survey(const RotationSettings& r, bool read_infisical = true);

  // Deletes the previous (Rotated) credential now, for a leaked secret. Refused unless
  // Infisical provably holds the current primary pair.
  RotationOutcome revoke_previous(const RotationSettings& r);

  // A burst's shared listing (see shared_listing.h), offered to each rotation's first look;
  // null (the default) lists each rotation's folder. Set before the workers start and
  // cleared after they end; it must outlive the rotations that use it.
  void use_listing(SharedListing* listing) { listing_ = listing; }

 private:
  struct Context;
  struct Inspection;
  // A step either carries on (nullopt) or ends the rotation with this outcome.
  using Stop = std::optional<RotationOutcome>;

  // DESIGN.md §3, one function per step.
  RotationOutcome rotate_fresh(Context& c);  // steps 1-8, no journal entry
  Stop inspect(Context& c, Inspection& in);  // 1
  std::optional<HeldPair> first_look(Context& c, const Inspection& in);
  Stop not_due_yet(Context& c, const Inspection& in);
  Stop reconcile(Context& c, const Inspection& in);                                      // 2
  Stop stage_and_journal(Context& c, const Inspection& in, JournalEntry& entry);         // 3, 4
  RotationOutcome finish(Context& c, JournalEntry& entry, bool resumed, bool promoted);  // 5-8
  RotationOutcome resume(Context& c, JournalEntry& entry);  // roll a journal entry forward

  // Parts of those steps.
  RotationOutcome republish_primary(Context& c, const Inspection& in, const SfStaged* rotated);
  Stop clear_foreign_staged(Context& c, const SfStaged& active);
  Stop revoke_previous_previous(Context& c, const Inspection& in, const SfStaged& rotated);
  Stop recheck_primary(Context& c, const Inspection& in);
  Stop prove_publish_path(Context& c);  // 3, before anything changes at Salesforce
  Stop reserve_publish(Context& c);
  Stop stage_failed(Context& c, Error e);
  Stop journal_failed(Context& c, const std::string& staged_id, Error e);
  Stop discard_intent(Context& c, const JournalEntry& intent);
  Stop find_journaled_staged(Context& c, JournalEntry& entry);
  Stop verify(Context& c, const JournalEntry& entry);
  Stop promote(Context& c, JournalEntry& entry);
  bool infisical_holds(Context& c, const std::string& fp);
  void drop_journal(Context& c, const char* step);

  RotationOutcome not_due(Context& c, const HeldPair& held, TimePoint due);
  void adopt_shared_record(Context& c, const HeldPair& held);
  // `rotated_at` (default: now) is recorded with the pair; a re-seal keeps the original.
  Status publish(Context& c, const Secret& key, const Secret& secret, long generation, bool manual,
                 std::optional<TimePoint> rotated_at = std::nullopt);
  bool sealed_for_others(const HeldPair& held) const;
  RotationOutcome reseal(Context& c, const Inspection& in, TimePoint due);
  Status commit(Context& c, const std::string& fp, long generation, bool manual);
  // A failed step: `impact` says what it means for the credential, from how far the protocol
  // got; `next` defaults to the next_step dependency's answer.
  RotationOutcome fail(Context& c, const char* step, Error e, Impact impact, std::string next = {});
  // Another agent is mid-rotation: leave it alone and look again later.
  RotationOutcome deferred(Context& c, const char* step, std::string detail);

  EngineDeps d_;
  SharedListing* listing_ = nullptr;
};

// Picks the consumer a rotation targets: the configured consumer_id, else the first (with
// `warning` naming the others). Refuses the connection's own External Client App.
Result<const SfConsumer*> choose_consumer(const RotationSettings& r,
                                          const std::vector<SfConsumer>& consumers,
                                          const SalesforceEndpoint& connection,
                                          std::string* warning);

// A stable fingerprint of the settings a journal entry depends on.
std::string rotation_config_fingerprint(const RotationSettings& r);

}  // namespace eca

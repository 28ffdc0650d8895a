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
#include <string>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/journal.h"
#include "agent/logger.h"
#include "agent/state_store.h"
#include "clients/infisical_client.h"
#include "clients/salesforce_client.h"
#include "crypto/envelope.h"

namespace eca {

enum class RotationResult {
  Rotated,        // a new pair was staged, verified, promoted and published
  Published,      // an earlier, unfinished rotation was completed (no new pair)
  NotDue,         // another agent rotated it within the interval
  Deferred,       // another agent is mid-rotation; try later
  Revoked,        // revoke_previous deleted the Rotated credential
  Failed,
};

struct RotationOutcome {
  std::string name;
  RotationResult result = RotationResult::Failed;
  std::string detail;           // one line for the operator; never a secret
  Error error;                  // meaningful when result == Failed
  // When Failed: what the failure means for the credential ("the current credential stays
  // valid; nothing was changed") and what happens next ("retrying in 2 min ...").
  std::string impact;
  std::string next;
  long generation = 0;
  std::string fingerprint;
};

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
  InfisicalClient* infisical = nullptr;
  std::map<std::string, SalesforceClient*> salesforce;  // by connection name
  const Sealer* sealer = nullptr;                        // null when encryption mode = none
  Journal* journal = nullptr;
  StateStore* state = nullptr;
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
};

// The next step after a failed rotation when nothing retries it automatically.
std::string rerun_hint(const RotationSettings& r, const Error& e);

class RotationEngine {
 public:
  explicit RotationEngine(EngineDeps deps) : d_(std::move(deps)) {}

  // Runs the protocol once for `r` (rolling forward any journal entry first).
  // `manual` is recorded so the schedule can add a day after an off-schedule rotation.
  // With `only_if_due`, a rotation whose Infisical metadata shows it was rotated within the
  // interval (by this agent or another sharing the config) is left alone (NotDue).
  RotationOutcome rotate(const RotationSettings& r, bool manual, bool only_if_due = false);

  // Deletes the previous (Rotated) credential now, for a leaked secret. Refused unless
  // Infisical provably holds the current primary pair.
  RotationOutcome revoke_previous(const RotationSettings& r);

 private:
  struct Context;
  RotationOutcome not_due(Context& c, TimePoint rotated_at, bool manual, TimePoint due);
  RotationOutcome run(Context& c);
  RotationOutcome recover(Context& c, JournalEntry& entry);
  Status publish(Context& c, const Secret& key, const Secret& secret, long generation,
                 bool manual);
  Status commit(Context& c, const std::string& fp, long generation, bool manual);
  // A failed step: `impact` is what it means for the credential (from how far the protocol
  // got); `next` defaults to the next_step dependency's answer.
  RotationOutcome fail(Context& c, const char* step, Error e, std::string impact,
                       std::string next = {});
  // Another agent is mid-rotation: leave it alone and look again later.
  RotationOutcome deferred(Context& c, const char* step, std::string detail);

  EngineDeps d_;
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

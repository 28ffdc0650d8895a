// Runtime: the production wiring of one loaded config: libcurl transport, one
// Salesforce client per connection, the Infisical client, the sealer, the
// journal and state store, and the state directory lock.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "agent/api_budget.h"
#include "agent/config.h"
#include "agent/file_journal.h"
#include "agent/logger.h"
#include "agent/metrics.h"
#include "agent/progress.h"
#include "agent/rotation_engine.h"
#include "agent/state_store.h"
#include "clients/budgeted_transport.h"
#include "clients/curl_transport.h"
#include "clients/salesforce_client.h"
#include "common/clock.h"

namespace eca {

// The system clock, or the test clock when $ECA_ROTATOR_TEST_CLOCK_FILE is set.
std::unique_ptr<Clock> make_clock(bool* is_test_clock = nullptr);

// An exclusive lock on <state_dir>/lock: one agent per state directory.
class StateDirLock {
 public:
  StateDirLock() = default;
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  Status acquire(const std::filesystem::path& state_dir);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class Runtime {
 public:
  // `metrics` outlives reloads in the daemon; null means the runtime keeps its own.
  Runtime(const Config& config, Logger& log, Metrics* metrics = nullptr);
  ~Runtime();

  // Takes the state directory lock (unless the caller holds it: the daemon, which keeps
  // it across reloads) and opens the journal; needed before rotating.
  Status open_state(bool take_lock = true);
  // Builds clients and the sealer; no network traffic.
  Status build_clients();

  // `next_step` says what happens after a failure (see EngineDeps); unset for one-shot commands.
  RotationEngine engine(
      std::function<std::string(const RotationSettings&, const Error&)> next_step = {});
  SalesforceClient* salesforce(const std::string& connection);
  InfisicalClient& infisical() { return *infisical_; }
  // Another client for the same server and identity (same login method, TLS settings and
  // request budget) reading another project or environment: a [[deliver]] place. Valid
  // after build_clients().
  std::unique_ptr<InfisicalClient> infisical_client_for(const std::string& project_id,
                                                        const std::string& environment);
  StateStore& state() { return state_; }
  FileJournal& journal() { return journal_; }
  const Clock& clock() const { return *clock_; }
  bool test_clock() const { return test_clock_; }
  HttpTransport& transport() { return transport_; }
  // Infisical's request budget ([infisical] rate_limits), shared by every worker; valid
  // after build_clients().
  RequestBudget& infisical_budget() { return *infisical_budget_; }
  // 429 answers Infisical gave (each paused every request, then was sent again).
  long infisical_rate_limited() const;
  Metrics& metrics() { return *metrics_; }
  const Sealer* sealer() const { return sealer_ ? &*sealer_ : nullptr; }

  // After each attempt: metrics, the metrics file, and the on_success/on_failure hook.
  void report(const RotationSettings& r, const RotationOutcome& o, double seconds);

  struct BatchOptions {
    bool manual = false;       // `rotate`: counted as manual by the schedule
    bool only_if_due = false;  // the daemon: leave what another agent rotated alone
    Progress* progress = nullptr;
    // Once set, rotations not yet started are Deferred ("not started: shutting down").
    const std::atomic<bool>* stop = nullptr;
  };
  // Rotates each of `todo` once, on up to [agent] concurrency threads (the caller's among
  // them), and reports each outcome as it finishes. What `rotate` and the daemon share.
  std::vector<RotationOutcome> rotate_batch(RotationEngine& engine,
                                            const std::vector<const RotationSettings*>& todo,
                                            const BatchOptions& options);
  // The connection's daily API requests, read now (one REST call), with its reserve; the
  // metrics gauge is updated. A REQUEST_LIMIT_EXCEEDED answer reads as nothing left.
  Result<ApiBudget> salesforce_budget(const std::string& connection);
  // Refreshes every rotation's gauges from the state store (start, reload).
  void refresh_metrics();
  // Refreshes one rotation's gauges (after each attempt: O(1), not O(rotations)).
  void refresh_metrics(const RotationSettings& r);
  void write_metrics_file();
  // The Infisical requests of the last rate-limit window, kept in the state directory for
  // the next process on this VM, or the daemon's next runtime after a reload (see
  // RequestBudget::carry). Only after open_state (the state directory's lock is held, by
  // this runtime or its caller); build_clients() reads it.
  void save_request_window();

 private:
  // Whether a rotation has a journal entry (a rotation in flight): Unknown when the
  // journal cannot be read.
  enum class InFlight { No, Yes, Unknown };
  // Reads each connection's budget once and marks the rotations that do not fit above its
  // reserve Deferred in `outcomes` (false in the answer); a failed read admits them all.
  // Rotations in flight are always admitted.
  std::vector<bool> admit_within_salesforce_budget(const std::vector<const RotationSettings*>& todo,
                                                   const std::vector<InFlight>& in_flight,
                                                   std::vector<RotationOutcome>& outcomes);

  const Config& config_;
  InfisicalEndpoint infisical_endpoint(const std::string& project_id,
                                       const std::string& environment) const;

  Logger& log_;
  CurlTransport transport_;
  // Cloud metadata services only: no proxy, seconds-long timeouts.
  CurlTransport metadata_transport_;
  std::unique_ptr<CloudIdentity> cloud_identity_;
  std::unique_ptr<Clock> clock_;
  bool test_clock_ = false;
  StateStore state_;
  FileJournal journal_;
  std::unique_ptr<RequestBudget> infisical_budget_;
  RequestBudget::OnWait pacing_;  // the budget's logging observer (pacing: lines)
  std::unique_ptr<BudgetedTransport> infisical_transport_;
  std::unique_ptr<InfisicalClient> infisical_;
  std::map<std::string, std::unique_ptr<SalesforceClient>> salesforce_;
  std::optional<Sealer> sealer_;
  StateDirLock lock_;
  bool state_dir_held_ = false;  // open_state succeeded: the lock is held (maybe by the caller)
  Metrics own_metrics_;
  Metrics* metrics_;
  std::mutex file_mu_;
};

}  // namespace eca

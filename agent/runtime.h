// Runtime: the production wiring of one loaded config: libcurl transport, one
// Salesforce client per connection, the Infisical client, the sealer, the
// journal and state store, and the state directory lock.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/file_journal.h"
#include "agent/logger.h"
#include "agent/rotation_engine.h"
#include "agent/state_store.h"
#include "clients/curl_transport.h"

namespace eca {

// An exclusive lock on <state_dir>/lock: one agent per state directory.
class StateDirLock {
 public:
  StateDirLock() = default;
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  Status acquire(const std::filesystem::path& state_dir);

 private:
  int fd_ = -1;
};

class Runtime {
 public:
  Runtime(const Config& config, Logger& log);
  ~Runtime();

  // Takes the state directory lock (unless the caller holds it) and opens the journal;
  // needed before rotating.
  Status open_state(bool take_lock = true);
  // Builds clients and the sealer; no network traffic.
  Status build_clients();

  RotationEngine engine();
  SalesforceClient* salesforce(const std::string& connection);
  InfisicalClient& infisical() { return *infisical_; }
  StateStore& state() { return state_; }
  FileJournal& journal() { return journal_; }
  const Clock& clock() const { return *clock_; }
  bool test_clock() const { return test_clock_; }
  HttpTransport& transport() { return transport_; }

 private:
  const Config& config_;
  Logger& log_;
  CurlTransport transport_;
  std::unique_ptr<Clock> clock_;
  bool test_clock_ = false;
  StateStore state_;
  FileJournal journal_;
  std::unique_ptr<InfisicalClient> infisical_;
  std::map<std::string, std::unique_ptr<SalesforceClient>> salesforce_;
  std::optional<Sealer> sealer_;
  StateDirLock lock_;
};

}  // namespace eca

// Journal: the write-ahead record of a staged credential (DESIGN.md §3 step 4).
//
// Written before anything depends on a staged pair, so a crash between the
// Salesforce call and the Infisical commit never leaves a credential only in
// memory. The engine talks to this interface; FileJournal keeps records
// encrypted under <state_dir>/journal/.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "common/secret.h"

namespace eca {

// Intent: written just before R5, without a key, so that after a crash an Active staged
// credential that appeared meanwhile is known to be ours (and held by nobody).
enum class JournalPhase { Intent, Staged, Promoted };

struct JournalEntry {
  std::string rotation;
  long generation = 0;
  std::string app_id;
  std::string consumer_id;
  std::string staged_id;
  Secret key;
  Secret secret;
  JournalPhase phase = JournalPhase::Staged;
  std::string written_at;  // ISO 8601 UTC
  bool manual = false;
  std::string config_fingerprint;  // of the rotation's settings when it was written
};

class Journal {
 public:
  virtual ~Journal() = default;
  virtual Status write(const JournalEntry& entry) = 0;
  virtual Result<std::optional<JournalEntry>> read(const std::string& rotation) = 0;
  virtual Status clear(const std::string& rotation) = 0;
};

}  // namespace eca

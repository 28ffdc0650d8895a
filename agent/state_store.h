// StateStore: what this agent remembers about each rotation between runs
// (<state_dir>/rotations/<name>.json, 0600). No secrets are stored here.
// The same facts are also written as metadata on the Infisical secrets, which
// is what a rebuilt VM or another agent reads; this file is the local cache
// and the home of failure bookkeeping for `status`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "agent/clock.h"
#include "clients/result.h"

namespace eca {

struct RotationRecord {
  std::string name;
  std::optional<TimePoint> last_rotated;
  bool last_manual = false;
  long generation = 0;
  std::string fingerprint;      // of the published consumer key
  std::string app_id;
  std::string consumer_id;
  std::optional<TimePoint> last_attempt;
  std::string last_error;       // empty after a success
  int consecutive_failures = 0;
};

class StateStore {
 public:
  explicit StateStore(std::filesystem::path state_dir);
  Status init();  // creates the directories (0700)
  Result<std::optional<RotationRecord>> load(const std::string& name) const;
  Status save(const RotationRecord& record);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace eca

// StateStore: what this agent remembers about each rotation between runs
// (<state_dir>/rotations/<name>.json, 0600). No secrets are stored here.
// The same facts are also written as metadata on the Infisical secrets, which
// is what a rebuilt VM or another agent reads; this file is the local cache
// and the home of failure bookkeeping for `status`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "agent/rotation_records.h"
#include "common/clock.h"
#include "common/result.h"

namespace eca {

class StateStore : public RotationRecords {
 public:
  explicit StateStore(std::filesystem::path state_dir);
  Status init();  // creates the directories (0700)
  Result<std::optional<RotationRecord>> load(const std::string& name) const override;
  Status save(const RotationRecord& record) override;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace eca

// RotationRecords: what the rotation engine needs of the per-rotation records (load and
// save one record by rotation name). StateStore keeps them as files under state_dir;
// engine tests keep them in memory.
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace eca {

struct RotationRecord {
  std::string name;
  std::optional<TimePoint> last_rotated;
  bool last_manual = false;
  long generation = 0;
  std::string fingerprint;  // of the published consumer key
  std::string app_id;
  std::string consumer_id;
  std::optional<TimePoint> last_attempt;
  std::string last_error;  // empty after a success
  // While failing: when the daemon tries again (its backoff, or the next day's slot once
  // retries are exhausted). Empty when no daemon planned a retry.
  std::optional<TimePoint> retry_at;
  int consecutive_failures = 0;
  // The keys the published values were sealed to (encryption_label(): "none" or
  // "x25519-sealedbox:<kid>,…"); empty when unknown. A config naming other recipients
  // makes the daemon look at the rotation at once, to publish the pair again for them.
  std::string sealed_for;
};

class RotationRecords {
 public:
  virtual ~RotationRecords() = default;
  virtual Result<std::optional<RotationRecord>> load(const std::string& name) const = 0;
  virtual Status save(const RotationRecord& record) = 0;
};

}  // namespace eca

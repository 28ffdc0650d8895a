#include "tests/sandbox/fault_plan.h"

namespace eca::sandbox {

void FaultPlan::add(Fault fault) {
  if (fault.times == 0) return;
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
}

void FaultPlan::clear() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

std::size_t FaultPlan::armed() const {
  std::lock_guard lock(mu_);
  return faults_.size();
}

std::optional<Fault> FaultPlan::take(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->endpoint != "*" && it->endpoint != endpoint) continue;
    if (it->skip > 0) {
      --it->skip;
      return std::nullopt;
    }
    Fault hit = *it;
    if (it->times > 0 && --it->times == 0) faults_.erase(it);
    return hit;
  }
  return std::nullopt;
}

}  // namespace eca::sandbox

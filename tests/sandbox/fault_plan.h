// FaultPlan: the faults armed on one fake server, consumed as requests hit them.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/sandbox/fault.h"

namespace eca::sandbox {

class FaultPlan {
 public:
  void add(Fault fault);
  void clear();
  std::size_t armed() const;

  // The first armed fault matching `endpoint` (exact name, or "*"), with one of
  // its uses consumed; nullopt when none applies.
  std::optional<Fault> take(std::string_view endpoint);

 private:
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
};

}  // namespace eca::sandbox

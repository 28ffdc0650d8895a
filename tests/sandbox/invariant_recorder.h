// InvariantRecorder: checks DESIGN.md's first invariant, "the pair in Infisical
// always authenticates at Salesforce", at every instant it could break: after each
// Infisical write and each Salesforce credential change (and when time moves,
// since Rotated credentials expire). Violations are recorded, never printed with
// the secrets in them.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/sandbox/fake_infisical.h"
#include "tests/sandbox/fake_salesforce.h"

namespace eca::sandbox {

// Turns a stored Infisical value into the plain credential (e.g. opens a sealed
// envelope); nullopt when it cannot. The default is the identity.
using ValueDecoder = std::function<std::optional<std::string>(const std::string& stored_value)>;

struct Violation {
  FakeClock::time_point when;  // fake clock
  std::string description;     // names paths, secret names and key fingerprints only
};

struct WatchedPair {
  std::string project_id;
  std::string environment;
  std::string path;
  std::string key_name;
  std::string secret_name;
  std::string app_id;  // optional (15 or 18 characters): the pair must be this ECA's
};

class InvariantRecorder {
 public:
  // `state_mutex` must be the one both fakes use, so a check sees one instant.
  InvariantRecorder(FakeSalesforce& salesforce, FakeInfisical& infisical,
                    std::recursive_mutex& state_mutex);

  void set_decoder(ValueDecoder decoder);
  void watch(WatchedPair pair);

  // Checks every watched pair now; `reason` says what just happened.
  void check(const std::string& reason);

  std::vector<Violation> violations() const;
  void clear();

 private:
  std::optional<std::string> problem(const WatchedPair& pair) const;

  FakeSalesforce& salesforce_;
  FakeInfisical& infisical_;
  std::recursive_mutex& state_mutex_;
  mutable std::mutex mu_;
  ValueDecoder decoder_;
  std::vector<WatchedPair> watched_;
  std::map<std::size_t, std::string> last_problem_;  // by watch index; absent = fine
  std::vector<Violation> violations_;
};

}  // namespace eca::sandbox

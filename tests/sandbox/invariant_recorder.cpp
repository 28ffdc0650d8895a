#include "tests/sandbox/invariant_recorder.h"

#include "tests/sandbox/admin_routes.h"

namespace eca::sandbox {

InvariantRecorder::InvariantRecorder(FakeSalesforce& salesforce, FakeInfisical& infisical,
                                     std::recursive_mutex& state_mutex)
    : salesforce_(salesforce),
      infisical_(infisical),
      state_mutex_(state_mutex),
      decoder_([](const std::string& v) { return std::optional<std::string>(v); }) {}

void InvariantRecorder::set_decoder(ValueDecoder decoder) {
  std::lock_guard lock(mu_);
  decoder_ = std::move(decoder);
}

void InvariantRecorder::watch(WatchedPair pair) {
  std::lock_guard lock(mu_);
  watched_.push_back(std::move(pair));
}

std::optional<std::string> InvariantRecorder::problem(const WatchedPair& pair) const {
  const auto key = infisical_.secret(pair.project_id, pair.environment, pair.path, pair.key_name);
  const auto secret =
      infisical_.secret(pair.project_id, pair.environment, pair.path, pair.secret_name);
  if (!key && !secret) return std::nullopt;  // nothing published yet
  if (!key || !secret) {
    return "holds only " + (key ? pair.key_name : pair.secret_name) + " (a half-written pair)";
  }
  const auto plain_key = decoder_(key->value);
  const auto plain_secret = decoder_(secret->value);
  if (!plain_key || !plain_secret) return "holds a value the decoder cannot open";
  if (!salesforce_.authenticates(*plain_key, *plain_secret)) {
    return "holds a pair that does not authenticate (key " + key_fingerprint(*plain_key) + ")";
  }
  if (!pair.app_id.empty() &&
      salesforce_.app_of_key(*plain_key).compare(0, 15, pair.app_id, 0, 15) != 0) {
    return "holds a pair of another ECA (key " + key_fingerprint(*plain_key) + ")";
  }
  return std::nullopt;
}

void InvariantRecorder::check(const std::string& reason) {
  std::lock_guard state(state_mutex_);
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < watched_.size(); ++i) {
    const WatchedPair& pair = watched_[i];
    const auto found = problem(pair);
    auto last = last_problem_.find(i);
    if (!found) {
      if (last != last_problem_.end()) last_problem_.erase(last);
      continue;
    }
    // One record per distinct breakage, not one per event while it lasts.
    if (last != last_problem_.end() && last->second == *found) continue;
    last_problem_[i] = *found;
    violations_.push_back({salesforce_.clock().now(), "after " + reason + ": " + pair.environment +
                                                          ":" + pair.path + " (" + pair.key_name +
                                                          ", " + pair.secret_name + ") " + *found});
  }
}

std::vector<Violation> InvariantRecorder::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

void InvariantRecorder::clear() {
  std::lock_guard lock(mu_);
  violations_.clear();
  last_problem_.clear();
}

}  // namespace eca::sandbox

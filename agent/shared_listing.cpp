#include "agent/shared_listing.h"

#include "agent/folder_plan.h"

namespace eca {

SharedListing::SharedListing(InfisicalApi& infisical, const Clock& clock, Logger& log,
                             const std::vector<const RotationSettings*>& todo)
    : infisical_(infisical), clock_(clock), log_(log), todo_(todo) {
  for (const auto* r : todo_) waiting_.insert(r->name);
  if (todo_.size() < 2) return;
  std::vector<std::string> paths;
  for (const auto* r : todo_) paths.push_back(r->secret_path);
  parent_ = common_folder(paths);
}

void SharedListing::take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!parent_.empty() && waiting_.size() >= 2) list_locked();
}

void SharedListing::list_locked() {
  held_.clear();
  ++listings_;
  auto listed = infisical_.list_recursive(parent_);
  if (!listed) {
    // Refused (403), not understood, or no answer: each rotation lists its own folder, and
    // nothing asks again (the same answer would most likely come back).
    failed_ = true;
    log_.info("", "inspect",
              "could not list the Infisical secrets below " + parent_ + " at once (" +
                  listed.error().describe() + "); each rotation lists its own folder");
    return;
  }
  taken_at_ = clock_.now();
  // By folder, once: a burst of N rotations would otherwise scan all N folders' secrets N
  // times.
  std::map<std::string, std::vector<const StoredSecret*>> by_path;
  for (const auto& l : *listed) by_path[l.path].push_back(&l.secret);
  for (const auto* r : todo_) {
    if (waiting_.count(r->name) == 0) continue;
    auto here = by_path.find(r->secret_path);
    if (here == by_path.end()) continue;
    std::vector<StoredSecret> mine;
    int keys = 0;
    int secrets = 0;
    for (const StoredSecret* sp : here->second) {
      const StoredSecret& s = *sp;
      if (s.name == r->consumer_key_secret) ++keys;
      if (s.name == r->consumer_secret_secret) ++secrets;
      if (s.name == r->consumer_key_secret || s.name == r->consumer_secret_secret) {
        StoredSecret copy;
        copy.name = s.name;
        copy.value = s.value.clone();
        copy.version = s.version;
        copy.metadata = s.metadata;
        mine.push_back(std::move(copy));
      }
    }
    // Nothing there (a first rotation, a folder the role may not read, which a recursive
    // list leaves out without a word), one of the two missing, or a name twice (duplicated
    // folders): the rotation's own list decides.
    if (keys == 1 && secrets == 1) held_.emplace(r->name, held_pair(*r, mine));
  }
}

std::optional<HeldPair> SharedListing::first_look(const RotationSettings& r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (waiting_.count(r.name) == 0) return std::nullopt;
  const auto age = clock_.now() - taken_at_;
  if (!failed_ && listings_ > 0 && (age < std::chrono::seconds(0) || age > kMaxAge)) {
    // Too old to trust. Listing again pays when it may serve this rotation and another:
    // when the last one could (a first burst's listing shows nothing anyone can use, and
    // listing again would only add requests).
    if (waiting_.size() >= 2 && held_.size() >= 2) {
      list_locked();
    } else {
      held_.clear();
    }
  }
  waiting_.erase(r.name);
  if (failed_ || listings_ == 0) return std::nullopt;
  auto it = held_.find(r.name);
  if (it == held_.end()) return std::nullopt;
  HeldPair h = std::move(it->second);
  held_.erase(it);
  return h;
}

void SharedListing::used() {
  std::lock_guard<std::mutex> lock(mu_);
  ++served_;
}

int SharedListing::listings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return listings_;
}

int SharedListing::served() const {
  std::lock_guard<std::mutex> lock(mu_);
  return served_;
}

}  // namespace eca

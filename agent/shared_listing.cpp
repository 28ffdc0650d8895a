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
  // What each waiting rotation's folder shows of its two mapped secrets, read as the answer
  // streams past: a pair is kept only until both are seen, then reduced to its HeldPair,
  // so a burst's thousands of secrets are never held together.
  struct Look {
    const RotationSettings* r = nullptr;
    int keys = 0;
    int secrets = 0;
    std::vector<StoredSecret> seen;  // until both are there
    std::optional<HeldPair> held;
  };
  std::vector<Look> looks;
  for (const auto* r : todo_) {
    if (waiting_.count(r->name) != 0) looks.push_back(Look{r, 0, 0, {}, std::nullopt});
  }
  std::map<std::string, std::vector<Look*>> by_path;  // folder -> rotations there
  for (Look& l : looks) by_path[l.r->secret_path].push_back(&l);

  auto listed = infisical_.list_recursive(parent_, [&](ListedSecret&& s) {
    auto here = by_path.find(s.path);
    if (here == by_path.end()) return;
    for (Look* l : here->second) {
      const bool key = s.secret.name == l->r->consumer_key_secret;
      const bool secret = s.secret.name == l->r->consumer_secret_secret;
      if (!key && !secret) continue;
      l->keys += key ? 1 : 0;
      l->secrets += secret ? 1 : 0;
      if (l->keys > 1 || l->secrets > 1) {
        l->seen.clear();  // a name twice (duplicated folders): the rotation's own list decides
        l->held.reset();
        continue;
      }
      l->seen.push_back(
          StoredSecret{s.secret.name, s.secret.value.clone(), s.secret.version, s.secret.metadata});
      if (l->keys == 1 && l->secrets == 1) {
        l->held = held_pair(*l->r, l->seen);
        l->seen.clear();
      }
    }
  });
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
  // Nothing there (a first rotation, a folder the role may not read, which a recursive list
  // leaves out without a word), one of the two missing, or a name twice (duplicated
  // folders): the rotation's own list decides.
  for (Look& l : looks) {
    if (l.keys == 1 && l.secrets == 1 && l.held) held_.emplace(l.r->name, std::move(*l.held));
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

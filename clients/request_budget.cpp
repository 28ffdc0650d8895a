#include "clients/request_budget.h"

#include <algorithm>
#include <utility>

namespace eca {
namespace {

// The reservation the current thread spends first (see Reservation::Use).
thread_local RequestBudget::Reservation* t_current = nullptr;

constexpr std::size_t index(RequestCategory c) {
  return static_cast<std::size_t>(c);
}

}  // namespace

const char* to_string(RequestCategory c) {
  switch (c) {
    case RequestCategory::Global:
      return "global";
    case RequestCategory::Read:
      return "read";
    case RequestCategory::Write:
      return "write";
    case RequestCategory::Secret:
      return "secret";
  }
  return "?";
}

int RateLimits::of(RequestCategory c) const {
  switch (c) {
    case RequestCategory::Global:
      return global;
    case RequestCategory::Read:
      return read;
    case RequestCategory::Write:
      return write;
    case RequestCategory::Secret:
      return secret;
  }
  return 0;
}

std::string RateLimits::describe() const {
  if (!any()) return "none";
  std::string out;
  for (auto c : {RequestCategory::Global, RequestCategory::Read, RequestCategory::Write,
                 RequestCategory::Secret}) {
    if (of(c) <= 0) continue;
    out += (out.empty() ? "" : ", ") + std::to_string(of(c)) + " " + to_string(c);
  }
  const auto ms = window.count();
  return out + " per " +
         (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
}

RequestCost& RequestCost::add(RequestCategory c, int n) {
  units[index(c)] += n;
  return *this;
}

// ---- Reservation ----------------------------------------------------------------------

RequestBudget::Reservation::~Reservation() {
  if (budget_ != nullptr) budget_->release(left_);
}

RequestBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), left_(other.left_) {}

RequestBudget::Reservation& RequestBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (budget_ != nullptr) budget_->release(left_);
    budget_ = std::exchange(other.budget_, nullptr);
    left_ = other.left_;
  }
  return *this;
}

bool RequestBudget::Reservation::empty() const {
  return budget_ == nullptr ||
         std::all_of(left_.units.begin(), left_.units.end(), [](int n) { return n <= 0; });
}

RequestBudget::Reservation::Use::Use(Reservation& r) : previous_(t_current) {
  t_current = &r;
}

RequestBudget::Reservation::Use::~Use() {
  t_current = previous_;
}

// ---- RequestBudget --------------------------------------------------------------------

RequestBudget::RequestBudget(RateLimits limits, Now now, WaitUntil wait)
    : limits_(limits), now_(std::move(now)), wait_(std::move(wait)) {}

void RequestBudget::set_max_wait(std::chrono::milliseconds max_wait) {
  std::lock_guard lock(mu_);
  max_wait_ = max_wait;
}

std::chrono::milliseconds RequestBudget::max_wait() const {
  std::lock_guard lock(mu_);
  return max_wait_;
}

void RequestBudget::on_wait(OnWait observer) {
  std::lock_guard lock(mu_);
  on_wait_ = std::move(observer);
}

// The window plus a two-hundredth (0.3 s of a minute) for the rounding of the server's
// timers. Nothing has to be added for the time requests take to reach the server: the
// window counts from the answers (see the header).
std::chrono::milliseconds RequestBudget::span() const {
  return limits_.window + limits_.window / 200;
}

void RequestBudget::forget_old(TimePoint now) {
  for (Lane& lane : lanes_) {
    while (!lane.answered.empty() && lane.answered.front() + span() <= now) {
      lane.answered.pop_front();
    }
  }
}

RequestBudget::TimePoint RequestBudget::admissible_at(const RequestCost& cost,
                                                      const RequestCost* spend, TimePoint now) {
  TimePoint at = std::max(now, paused_until_);
  if (spend != nullptr) return at;  // reserved units are room already set aside
  for (std::size_t c = 0; c < kRequestCategories; ++c) {
    const int limit = limits_.of(static_cast<RequestCategory>(c));
    if (cost.units[c] <= 0 || limit <= 0) continue;
    const Lane& lane = lanes_[c];
    if (lane.reserved + cost.units[c] > limit) {
      // More than a window holds: never, unless reservations are released first.
      if (cost.units[c] > limit) return TimePoint::max();
      continue;  // a release wakes us; see wait_for_room
    }
    const long excess = static_cast<long>(lane.answered.size()) + lane.in_flight + lane.reserved +
                        cost.units[c] - limit;
    if (excess <= 0) continue;
    // The oldest answers leave the window first; requests in flight only once answered
    // (finish wakes us, and the wait looks again then).
    if (excess > static_cast<long>(lane.answered.size())) {
      at = std::max(at, now + span());
    } else {
      at = std::max(at, lane.answered[static_cast<std::size_t>(excess - 1)] + span());
    }
  }
  return at;
}

Status RequestBudget::wait_for_room(std::unique_lock<std::mutex>& lock, const RequestCost& cost,
                                    const RequestCost* spend, const char* why) {
  const TimePoint start = now();
  bool told = false;
  for (;;) {
    const TimePoint n = now();
    forget_old(n);
    TimePoint at = admissible_at(cost, spend, n);
    if (at == TimePoint::max()) {
      return Error::permanent(std::string("more ") + why + " than the configured rate limits (" +
                              limits_.describe() + ") allow in one window");
    }
    bool blocked_by_reservations = false;
    for (std::size_t c = 0; c < kRequestCategories && spend == nullptr; ++c) {
      const int limit = limits_.of(static_cast<RequestCategory>(c));
      if (limit > 0 && cost.units[c] > 0 && lanes_[c].reserved + cost.units[c] > limit) {
        blocked_by_reservations = true;
      }
    }
    if (at <= n && !blocked_by_reservations) return ok_status();
    // Waiting on reservations: look again once a window has passed, or when one is released.
    if (blocked_by_reservations) at = std::max(at, n + span());
    if (at - start > max_wait_) {
      Error e =
          Error::transient(std::string("not sent: ") + why + " would wait " +
                           std::to_string(std::chrono::ceil<std::chrono::seconds>(at - n).count()) +
                           " s for Infisical's rate limits (" + limits_.describe() +
                           "), longer than the longest wait allowed");
      e.retry_after = std::chrono::ceil<std::chrono::seconds>(at - n);
      return e;
    }
    if (!told && on_wait_) {
      told = true;
      auto observer = on_wait_;
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(at - n);
      lock.unlock();
      observer(wait, why);
      lock.lock();
      continue;  // time passed while unlocked
    }
    if (wait_) {
      wait_(lock, at);
    } else {
      cv_.wait_until(lock, at);
    }
  }
}

RequestBudget::Ticket::Ticket(Ticket&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), category_(other.category_) {}

RequestBudget::Ticket& RequestBudget::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    done();
    budget_ = std::exchange(other.budget_, nullptr);
    category_ = other.category_;
  }
  return *this;
}

void RequestBudget::Ticket::done() {
  if (RequestBudget* b = std::exchange(budget_, nullptr)) b->finish(category_);
}

void RequestBudget::finish(RequestCategory category) {
  {
    std::lock_guard lock(mu_);
    const TimePoint n = now();
    for (RequestCategory c : {RequestCategory::Global, category}) {
      Lane& lane = lanes_[index(c)];
      if (limits_.of(c) <= 0) continue;
      --lane.in_flight;
      lane.answered.push_back(n);  // now() is monotonic: the deque stays ordered
    }
  }
  cv_.notify_all();
}

Result<RequestBudget::Ticket> RequestBudget::acquire(RequestCategory category) {
  RequestCost cost;
  cost.add(RequestCategory::Global).add(category);
  std::unique_lock lock(mu_);
  Reservation* r = t_current;
  RequestCost* spend = nullptr;
  if (r != nullptr && r->budget_ == this && r->left_.units[index(RequestCategory::Global)] > 0 &&
      r->left_.units[index(category)] > 0) {
    spend = &r->left_;
  }
  if (auto st = wait_for_room(lock, cost, spend, "a request"); !st) return st.error();
  for (std::size_t c = 0; c < kRequestCategories; ++c) {
    if (cost.units[c] <= 0) continue;
    if (limits_.of(static_cast<RequestCategory>(c)) > 0) ++lanes_[c].in_flight;
    if (spend != nullptr) {
      spend->units[c] -= cost.units[c];
      lanes_[c].reserved -= cost.units[c];
    }
  }
  Ticket t;
  t.budget_ = this;
  t.category_ = category;
  return t;
}

Result<RequestBudget::Reservation> RequestBudget::reserve(const RequestCost& cost) {
  std::unique_lock lock(mu_);
  if (auto st = wait_for_room(lock, cost, nullptr, "reserving the publish requests"); !st) {
    return st.error();
  }
  for (std::size_t c = 0; c < kRequestCategories; ++c) lanes_[c].reserved += cost.units[c];
  Reservation r;
  r.budget_ = this;
  r.left_ = cost;
  return r;
}

void RequestBudget::release(RequestCost& left) {
  {
    std::lock_guard lock(mu_);
    for (std::size_t c = 0; c < kRequestCategories; ++c) {
      lanes_[c].reserved -= std::max(0, left.units[c]);
      left.units[c] = 0;
    }
  }
  cv_.notify_all();
}

void RequestBudget::pause_until(TimePoint until) {
  std::lock_guard lock(mu_);
  paused_until_ = std::max(paused_until_, until);
}

namespace {

std::int64_t to_wall_ms(RequestBudget::TimePoint t, RequestBudget::TimePoint steady_now,
                        std::chrono::system_clock::time_point wall_now) {
  const auto wall =
      wall_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - steady_now);
  return std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
}

}  // namespace

RequestBudget::Carry RequestBudget::carry() const {
  std::lock_guard lock(mu_);
  const TimePoint n = now();
  const auto wall = std::chrono::system_clock::now();
  Carry c;
  for (std::size_t i = 0; i < kRequestCategories; ++i) {
    for (TimePoint t : lanes_[i].answered) {
      if (t + span() > n) c.answered_ms[i].push_back(to_wall_ms(t, n, wall));
    }
    // Still in flight when the process ends: the server may count it any time up to now.
    for (int k = 0; k < lanes_[i].in_flight; ++k) {
      c.answered_ms[i].push_back(to_wall_ms(n, n, wall));
    }
  }
  if (paused_until_ > n) c.paused_until_ms = to_wall_ms(paused_until_, n, wall);
  return c;
}

void RequestBudget::take_over(const Carry& c) {
  {
    std::lock_guard lock(mu_);
    const TimePoint n = now();
    const std::int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    auto steady = [&](std::int64_t ms) { return n + std::chrono::milliseconds(ms - wall_ms); };
    for (std::size_t i = 0; i < kRequestCategories; ++i) {
      if (limits_.of(static_cast<RequestCategory>(i)) <= 0) continue;
      std::vector<TimePoint> merged(lanes_[i].answered.begin(), lanes_[i].answered.end());
      for (std::int64_t ms : c.answered_ms[i]) {
        // A clock set back would put an answer in the future: count it as answered now.
        const TimePoint t = std::min(steady(ms), n);
        if (t + span() > n) merged.push_back(t);
      }
      std::sort(merged.begin(), merged.end());
      lanes_[i].answered.assign(merged.begin(), merged.end());
    }
    if (c.paused_until_ms > wall_ms)
      paused_until_ = std::max(paused_until_, steady(c.paused_until_ms));
  }
  cv_.notify_all();
}

int RequestBudget::recent(RequestCategory category) {
  std::lock_guard lock(mu_);
  forget_old(now());
  const Lane& lane = lanes_[index(category)];
  return static_cast<int>(lane.answered.size()) + lane.in_flight;
}

}  // namespace eca

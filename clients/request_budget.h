// RequestBudget: client-side admission for a service that limits requests per window
// (Infisical Cloud: per client IP and minute, a global cap plus read / write / secret
// categories). One budget is shared by every worker of the process, so a burst paces
// itself instead of running into 429s.
//
// Admission counts, per category, the requests still in flight and when the answers of
// the last ones arrived, and admits one more only while fewer than `limit` of them are in
// flight or were answered within the last `window`: the server saw each request somewhere
// between its send and its answer, so whatever way the server cuts its windows (fixed,
// from the first request, sliding) and however late a request reached it, none of them
// can see more than the limit. Counting from the send instead would be wrong by however
// long a request took to reach the server's limiter (a loaded server, a slow proxy).
//
// A Reservation sets units aside for later requests (a rotation's publish, which must not
// wait once Salesforce has promoted the new pair): reserved units count as used in every
// window until they are spent or released, so a reserved request is always admitted at
// once, unless the server itself said to wait (pause_until after a 429), which every
// request honours.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace eca {

enum class RequestCategory : int { Global = 0, Read = 1, Write = 2, Secret = 3 };
inline constexpr std::size_t kRequestCategories = 4;
const char* to_string(RequestCategory c);

// Limits per window; 0 = no limit for that category.
struct RateLimits {
  int global = 0;
  int read = 0;
  int write = 0;
  int secret = 0;
  std::chrono::milliseconds window{60000};

  // Infisical Cloud's free plan (API reference, "Rate limiting"): per minute and client IP.
  static RateLimits infisical_cloud() { return {600, 200, 90, 120}; }
  bool any() const { return global > 0 || read > 0 || write > 0 || secret > 0; }
  int of(RequestCategory c) const;
  // "600 global, 200 read, 90 write, 120 secret per 60 s" (the `validate` line).
  std::string describe() const;
};

// How many requests of each category something needs; a request counts once against
// Global and once against its own category.
struct RequestCost {
  std::array<int, kRequestCategories> units{};
  RequestCost& add(RequestCategory c, int n = 1);
};

class RequestBudget {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Now = std::function<TimePoint()>;
  // Waits up to the given time; returns early when woken (the default uses a condition
  // variable; tests inject one that moves a fake clock).
  using WaitUntil = std::function<void(std::unique_lock<std::mutex>&, TimePoint)>;
  // Told about every wait before it starts (how long, and why), for the progress line.
  using OnWait = std::function<void(std::chrono::milliseconds, const std::string& why)>;

  explicit RequestBudget(RateLimits limits, Now now = {}, WaitUntil wait = {});

  class Reservation {
   public:
    Reservation() = default;
    ~Reservation();
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    bool empty() const;

    // While a Use is alive, requests this thread sends through the budget spend the
    // reservation first.
    class Use {
     public:
      explicit Use(Reservation& r);
      ~Use();
      Use(const Use&) = delete;
      Use& operator=(const Use&) = delete;

     private:
      Reservation* previous_;
    };

   private:
    friend class RequestBudget;
    RequestBudget* budget_ = nullptr;
    RequestCost left_;
  };

  // One admitted request: in flight until done() (or destruction), which is when its
  // answer arrived; the window counts from then.
  class Ticket {
   public:
    Ticket() = default;
    ~Ticket() { done(); }
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    void done();

   private:
    friend class RequestBudget;
    RequestBudget* budget_ = nullptr;
    RequestCategory category_ = RequestCategory::Global;
  };

  // Blocks until one request of `category` may go, up to max_wait(); an error (Transient,
  // with retry_after) when the wait would be longer. The request counts as in flight until
  // the ticket is done.
  Result<Ticket> acquire(RequestCategory category);
  // Sets `cost` aside, waiting for room up to max_wait(); an error when it cannot fit.
  Result<Reservation> reserve(const RequestCost& cost);
  // The server answered 429: nobody sends until `until`.
  void pause_until(TimePoint until);
  void pause_for(std::chrono::milliseconds wait) { pause_until(now() + wait); }

  void set_max_wait(std::chrono::milliseconds max_wait);
  std::chrono::milliseconds max_wait() const;
  void on_wait(OnWait observer);
  const RateLimits& limits() const { return limits_; }
  // Requests in flight or answered in the last window per category (for tests).
  int recent(RequestCategory category);

  // What the server may still count from this process: per category when the answers of
  // the last window arrived (a request still in flight counts as answered now), and a
  // pause it asked for, in wall-clock milliseconds since the epoch.
  // The next process on the VM takes them over (the server's window does not restart with
  // the agent), so a `rotate` right after a burst does not run into the same window.
  struct Carry {
    std::array<std::vector<std::int64_t>, kRequestCategories> answered_ms;
    std::int64_t paused_until_ms = 0;
  };
  Carry carry() const;
  // Counts what `c` holds that is still inside the window (older entries are dropped).
  void take_over(const Carry& c);

 private:
  struct Lane {
    std::deque<TimePoint> answered;  // when the answers of the last window arrived, oldest first
    int in_flight = 0;
    int reserved = 0;
  };
  TimePoint now() const { return now_ ? now_() : std::chrono::steady_clock::now(); }
  std::chrono::milliseconds span() const;
  // When `cost` (plus nothing reserved by `spend`) can be admitted; max() if never.
  TimePoint admissible_at(const RequestCost& cost, const RequestCost* spend, TimePoint now);
  void forget_old(TimePoint now);
  Status wait_for_room(std::unique_lock<std::mutex>& lock, const RequestCost& cost,
                       const RequestCost* spend, const char* why);
  void release(RequestCost& left);
  void finish(RequestCategory category);

  RateLimits limits_;
  Now now_;
  WaitUntil wait_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::array<Lane, kRequestCategories> lanes_;
  TimePoint paused_until_{};
  std::chrono::milliseconds max_wait_ = std::chrono::minutes(30);
  OnWait on_wait_;
};

}  // namespace eca

// FakeClock: the sandbox's "now", shared by the fake org and the fake Infisical.
//
// Real time plus an adjustable offset, so a test can jump 30 days ahead (token
// lifetimes, Rotated credentials expiring) without waiting, while requests that
// really take time still see time pass.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace eca::sandbox {

class FakeClock {
 public:
  using time_point = std::chrono::system_clock::time_point;

  time_point now() const;
  std::int64_t now_epoch_ms() const;

  void advance(std::chrono::milliseconds by);
  void set_offset(std::chrono::milliseconds offset);
  std::chrono::milliseconds offset() const;

  // Listeners run after every advance/set_offset, on the caller's thread and
  // outside the clock's own lock (the sandbox re-checks its invariants there,
  // because moving time can expire credentials).
  // Returns an id for remove_listener().
  int on_change(std::function<void()> listener);
  void remove_listener(int id);

 private:
  void notify();

  std::atomic<std::int64_t> offset_ms_{0};
  mutable std::mutex listeners_mu_;
  std::vector<std::pair<int, std::function<void()>>> listeners_;
  int next_id_ = 1;
};

}  // namespace eca::sandbox

#include "tests/sandbox/fake_clock.h"

namespace eca::sandbox {

FakeClock::time_point FakeClock::now() const {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(offset_ms_.load());
}

std::int64_t FakeClock::now_epoch_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
}

void FakeClock::advance(std::chrono::milliseconds by) {
  offset_ms_ += by.count();
  notify();
}

void FakeClock::set_offset(std::chrono::milliseconds offset) {
  offset_ms_ = offset.count();
  notify();
}

std::chrono::milliseconds FakeClock::offset() const {
  return std::chrono::milliseconds(offset_ms_.load());
}

int FakeClock::on_change(std::function<void()> listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.emplace_back(next_id_, std::move(listener));
  return next_id_++;
}

void FakeClock::remove_listener(int id) {
  std::lock_guard lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
}

void FakeClock::notify() {
  std::vector<std::pair<int, std::function<void()>>> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& [id, listener] : listeners) listener();
}

}  // namespace eca::sandbox

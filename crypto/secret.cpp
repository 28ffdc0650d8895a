#include "crypto/secret.h"

#include <sodium.h>

#include <atomic>
#include <cstring>
#include <utility>

namespace eca {
namespace {

std::atomic<bool> g_all_locked{true};

// sodium_malloc already tries mlock; it reports nothing when that fails, so we
// lock again ourselves to learn whether the limit allowed it.
char* guarded_alloc(std::size_t capacity) {
  if (sodium_init() < 0) std::abort();
  void* p = sodium_malloc(capacity);
  if (p == nullptr) std::abort();  // out of memory: nothing sensible to do with a secret
  if (sodium_mlock(p, capacity) != 0) g_all_locked.store(false, std::memory_order_relaxed);
  return static_cast<char*>(p);
}

}  // namespace

Secret::Secret(std::string_view value) {
  allocate(value.size());
  if (!value.empty()) std::memcpy(data_, value.data(), value.size());
  size_ = value.size();
  data_[size_] = '\0';
}

Secret Secret::zeroed(std::size_t size) {
  Secret s;
  s.allocate(size);
  s.size_ = size;
  return s;
}

void Secret::allocate(std::size_t capacity) {
  // +1 keeps a terminating NUL for in-situ JSON parsing and C APIs.
  data_ = guarded_alloc(capacity + 1);
  std::memset(data_, 0, capacity + 1);
  capacity_ = capacity;
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

Secret::~Secret() { wipe(); }

void Secret::wipe() {
  if (data_ != nullptr) {
    sodium_munlock(data_, capacity_ + 1);  // zeroes as well
    sodium_free(data_);                    // zeroes again and releases
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

bool Secret::equals(std::string_view other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void Secret::append(std::string_view more) {
  if (more.empty()) return;
  if (size_ + more.size() > capacity_) {
    std::size_t cap = capacity_ < 64 ? 64 : capacity_;
    while (cap < size_ + more.size()) cap *= 2;
    Secret bigger;
    bigger.allocate(cap);
    if (size_ != 0) std::memcpy(bigger.data_, data_, size_);
    bigger.size_ = size_;
    *this = std::move(bigger);
  }
  std::memcpy(data_ + size_, more.data(), more.size());
  size_ += more.size();
  data_[size_] = '\0';
}

void Secret::truncate(std::size_t new_size) {
  if (new_size >= size_) return;
  sodium_memzero(data_ + new_size, size_ - new_size);
  size_ = new_size;
}

bool Secret::all_locked() { return g_all_locked.load(std::memory_order_relaxed); }

void wipe_string(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

}  // namespace eca

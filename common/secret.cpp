#include "common/secret.h"

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ECA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ECA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ECA_POISON(p, n) ((void)(p), (void)(n))
#define ECA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace eca {
namespace {

std::atomic<bool> g_all_locked{true};

// ---------------------------------------------------------------------------------------
// SecretArena: the memory behind every Secret of up to kLargest bytes.
//
// A rotation makes a few hundred short-lived Secrets (request and response bodies, tokens,
// parsed values). Giving each its own sodium_malloc costs an mmap, four mprotects, an mlock,
// an madvise and, on release, an munlock and an munmap: with 16 threads each of those is a
// TLB shootdown on every CPU, and it was most of the agent's CPU in a fleet burst. The arena
// keeps what mattered about that heap and drops the per-allocation syscalls:
//   - slabs are mmap'ed once, mlock'ed (a failure is reported by Secret::all_locked()),
//     excluded from core dumps (MADV_DONTDUMP) and wiped in a forked child (MADV_WIPEONFORK);
//   - blocks are zeroed when released, before they go back to a free list kept outside the
//     blocks (a free block holds no pointer and no byte of an old secret);
//   - the slabs are never returned to the system, so released secrets are never paged out
//     through munmap'ed-but-not-zeroed memory.
// What it gives up is the guard page after each allocation; AddressSanitizer builds poison
// every byte outside live blocks instead, so the test suite still catches an overflow.
// Larger buffers (response bodies over 64 KiB) are LargeBlocks, below.
class SecretArena {
 public:
  static constexpr std::size_t kSmallest = 32;
  static constexpr std::size_t kClasses = 12;  // 32 B .. 64 KiB
  static constexpr std::size_t kLargest = kSmallest << (kClasses - 1);
  static constexpr std::size_t kSlab = 256 * 1024;

  // Usable bytes of the block that would serve a request for `n` bytes (0 if too large).
  static std::size_t block_size(std::size_t n) {
    if (n > kLargest) return 0;
    std::size_t size = kSmallest;
    while (size < n) size <<= 1;
    return size;
  }

  char* take(std::size_t block) {
    const std::size_t cls = class_of(block);
    std::lock_guard<std::mutex> lock(mu_);
    char* p = nullptr;
    if (!free_[cls].empty()) {
      p = free_[cls].back();
      free_[cls].pop_back();
    } else {
      if (slab_left_ < block) new_slab();
      p = slab_next_;
      slab_next_ += block;
      slab_left_ -= block;
    }
    ECA_UNPOISON(p, block);
    return p;  // zero: fresh from mmap or zeroed by give_back()
  }

  void give_back(char* p, std::size_t block) {
    sodium_memzero(p, block);
    const std::size_t cls = class_of(block);
    std::lock_guard<std::mutex> lock(mu_);
    ECA_POISON(p, block);
    free_[cls].push_back(p);
  }

  // For tests: whether the `n` bytes at `p` (inside a released block) are all zero.
  bool released_bytes_are_zero(const char* p, std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    ECA_UNPOISON(p, n);
    bool zero = true;
    for (std::size_t i = 0; i < n; ++i) zero = zero && p[i] == 0;
    ECA_POISON(p, n);
    return zero;
  }

 private:
  static std::size_t class_of(std::size_t block) {
    std::size_t cls = 0;
    while ((kSmallest << cls) < block) ++cls;
    return cls;
  }

  void new_slab() {
    void* m = mmap(nullptr, kSlab, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();  // out of memory: nothing sensible to do with a secret
    (void)madvise(m, kSlab, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
    (void)madvise(m, kSlab, MADV_WIPEONFORK);
#endif
    if (mlock(m, kSlab) != 0) g_all_locked.store(false, std::memory_order_relaxed);
    slab_next_ = static_cast<char*>(m);
    slab_left_ = kSlab;
    ECA_POISON(slab_next_, slab_left_);
    // The tail of the previous slab (smaller than the block asked for) is simply left unused.
  }

  std::mutex mu_;
  std::array<std::vector<char*>, kClasses> free_;
  char* slab_next_ = nullptr;
  std::size_t slab_left_ = 0;
};

SecretArena& arena() {
  static SecretArena* a = new SecretArena();  // never destroyed: Secrets may outlive statics
  return *a;
}

// ---------------------------------------------------------------------------------------
// LargeBlock: a buffer over the arena's largest block (a response body: a burst's recursive
// listing is megabytes). Each has its own mapping: a guard page on either side of a span of
// address space reserved up front, of which only the first `capacity` bytes are readable
// and writable; growing within the span opens more pages in place. Pages become memory
// only when written, and are locked as they are (mlock2 MLOCK_ONFAULT), excluded from core
// dumps and wiped in a forked child. So a body is never held twice while it grows, and
// capacity not yet written costs nothing (libsodium's guarded heap, used before, filled and
// locked the whole capacity and copied the body at each doubling: a 2.4 MiB answer briefly
// took 6 MiB). Released: every resident page is zeroed, then the mapping is unmapped.
namespace large {

std::size_t page() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

std::size_t round_up(std::size_t n) {
  return (n + page() - 1) / page() * page();
}

// Address space reserved per block (no memory): any response the transports accept fits.
constexpr std::size_t kSpan = 16u << 20;

void lock(char* p, std::size_t n) {
  if (mlock2(p, n, MLOCK_ONFAULT) != 0) g_all_locked.store(false, std::memory_order_relaxed);
}

// `bytes` readable and writable (rounded up to pages) in a span of at least `want`.
char* map(std::size_t bytes, std::size_t want, std::size_t& span) {
  span = round_up(std::max(want, kSpan));
  void* m = mmap(nullptr, span + 2 * page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (m == MAP_FAILED) std::abort();  // out of address space: nothing sensible to do
  char* p = static_cast<char*>(m) + page();
  (void)madvise(p, span, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
  (void)madvise(p, span, MADV_WIPEONFORK);
#endif
  const std::size_t open = round_up(bytes);
  if (mprotect(p, open, PROT_READ | PROT_WRITE) != 0) std::abort();
  lock(p, open);
  return p;
}

// Opens [from, to) of the block at p (page multiples, within its span).
void grow(char* p, std::size_t from, std::size_t to) {
  if (mprotect(p + from, to - from, PROT_READ | PROT_WRITE) != 0) std::abort();
  lock(p + from, to - from);
}

void release(char* p, std::size_t open, std::size_t span) {
  // Only pages ever written are resident; zeroing the others would make them so.
  const std::size_t pages = open / page();
  std::vector<unsigned char> resident(pages);
  if (mincore(p, open, resident.data()) != 0) resident.assign(pages, 1);
  for (std::size_t i = 0; i < pages; ++i) {
    if (resident[i] & 1) sodium_memzero(p + i * page(), page());
  }
  (void)munlock(p, open);
  (void)munmap(p - page(), span + 2 * page());
}

}  // namespace large

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
  // +1 keeps a terminating NUL for in-situ JSON parsing and C APIs. A pooled block is
  // used whole: its extra bytes become capacity, so appends fill it before growing.
  if (std::size_t block = SecretArena::block_size(capacity + 1); block != 0) {
    data_ = arena().take(block);
    capacity_ = block - 1;
    span_ = 0;
  } else {
    data_ = large::map(capacity + 1, capacity + 1, span_);
    capacity_ = large::round_up(capacity + 1) - 1;
  }
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      span_(std::exchange(other.span_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    span_ = std::exchange(other.span_, 0);
  }
  return *this;
}

Secret::~Secret() {
  wipe();
}

void Secret::wipe() {
  if (data_ != nullptr) {
    if (span_ == 0) {
      arena().give_back(data_, capacity_ + 1);  // zeroes, then pools
    } else {
      large::release(data_, capacity_ + 1, span_);  // zeroes, then unmaps
    }
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
  span_ = 0;
}

bool Secret::equals(std::string_view other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void Secret::append(std::string_view more) {
  if (more.empty()) return;
  if (span_ != 0 && size_ + more.size() + 1 > capacity_ + 1 && size_ + more.size() + 1 <= span_) {
    // A large block grows in place, at least doubling (fewer mprotect/mlock calls).
    const std::size_t open = capacity_ + 1;
    const std::size_t to =
        std::min(span_, large::round_up(std::max(size_ + more.size() + 1, 2 * open)));
    large::grow(data_, open, to);
    capacity_ = to - 1;
  }
  if (data_ == nullptr || size_ + more.size() > capacity_) {
    std::size_t cap = capacity_ < 63 ? 63 : capacity_;
    while (cap < size_ + more.size()) cap = cap * 2 + 1;
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

bool Secret::all_locked() {
  return g_all_locked.load(std::memory_order_relaxed);
}

bool Secret::released_bytes_are_zero(const char* p, std::size_t n) {
  return arena().released_bytes_are_zero(p, n);
}

void wipe_string(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

}  // namespace eca

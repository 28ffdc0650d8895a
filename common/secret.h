// Secret: the only type that holds a credential inside the agent.
//
// Backed by locked memory that never reaches a core dump: a pool of mlock'ed,
// MADV_DONTDUMP slabs for buffers up to 64 KiB (see SecretArena in secret.cpp
// for why not one sodium_malloc each) and, for larger ones, a mapping of their own
// between guard pages that grows in place (LargeBlock in secret.cpp). Zeroed on release, move-only
// so a copy is always an explicit `clone()`. The buffer is kept NUL-terminated so RapidJSON can
// parse it in situ: parsed strings then point into this buffer instead of being copied into
// ordinary heap memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace eca {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view value);
  static Secret zeroed(std::size_t size);  // size bytes of zero, writable

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  Secret clone() const { return Secret(view()); }

  std::string_view view() const { return {data_ ? data_ : "", size_}; }
  char* data() { return data_; }
  const char* c_str() const { return data_ ? data_ : ""; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Constant-time comparison.
  bool equals(std::string_view other) const;
  bool operator==(const Secret& other) const { return equals(other.view()); }

  // Appends, reallocating inside the guarded heap (used to build request bodies).
  void append(std::string_view more);
  // Shrinks the logical size (e.g. after trimming); the tail is zeroed.
  void truncate(std::size_t new_size);

  // Releases and zeroes now; the object is empty afterwards.
  void wipe();

  // Whether mlock succeeded for every allocation so far (false once any failed).
  static bool all_locked();

  // For tests: whether the n bytes at p, inside a buffer already released, are zero.
  static bool released_bytes_are_zero(const char* p, std::size_t n);

 private:
  void allocate(std::size_t capacity);
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t span_ = 0;  // a large block's reserved bytes; 0 for an arena block
};

// Zeroes a std::string's buffer in place (for the rare unavoidable copy, such as
// a libcurl-owned buffer we must hand over) and clears it.
void wipe_string(std::string& s);

}  // namespace eca

// Helpers shared by the fuzz targets: a private scratch directory that lives as
// long as the process, and whole-file writes. Fuzz targets run millions of
// inputs in one process, so everything here is created once and reused.
#pragma once

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace eca::fuzz {

// A 0700 directory under $TMPDIR (or /tmp), removed when the process exits normally.
class ScratchDir {
 public:
  explicit ScratchDir(const char* tag) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/eca-fuzz-" + tag + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path` (truncating) with `mode`; aborts on failure, which is
// a broken harness rather than a finding.
inline void write_file(const std::filesystem::path& path, std::string_view content,
                       mode_t mode = 0600) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::abort();
  }
  if (!content.empty() && std::fwrite(content.data(), 1, content.size(), f) != content.size()) {
    std::perror(path.c_str());
    std::abort();
  }
  std::fclose(f);
  ::chmod(path.c_str(), mode);
}

inline void init_sodium() {
  if (sodium_init() < 0) std::abort();
}

// Fails loudly: a violated invariant is a finding just like a crash.
#define ECA_FUZZ_CHECK(cond)                                                              \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace eca::fuzz

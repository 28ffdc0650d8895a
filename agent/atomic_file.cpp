#include "agent/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "agent/posix_ops.h"

namespace eca {

const PosixOps& real_posix_ops() {
  static const PosixOps ops = {
      [](const char* path, int flags, mode_t mode) { return ::open(path, flags, mode); },
      [](char* tmpl) { return ::mkstemp(tmpl); },
      [](int fd, mode_t mode) { return ::fchmod(fd, mode); },
      [](int fd, void* buf, std::size_t n) { return ::read(fd, buf, n); },
      [](int fd, const void* buf, std::size_t n) { return ::write(fd, buf, n); },
      [](int fd) { return ::fsync(fd); },
      [](int fd) { return ::close(fd); },
      [](const char* from, const char* to) { return ::rename(from, to); },
      [](const char* path) { return ::unlink(path); },
  };
  return ops;
}

namespace {
std::atomic<const PosixOps*> g_ops{nullptr};
}  // namespace

const PosixOps& posix_ops() {
  const PosixOps* ops = g_ops.load(std::memory_order_acquire);
  return ops != nullptr ? *ops : real_posix_ops();
}

const PosixOps* set_posix_ops_for_testing(const PosixOps* ops) {
  return g_ops.exchange(ops, std::memory_order_acq_rel);
}

namespace {

Error io_error(const std::string& what, const std::filesystem::path& p, int err) {
  Error e = Error::permanent(what + " " + p.string() + ": " + std::strerror(err));
  if (err == ENOENT) e.code = "ENOENT";
  if (err == ENOSPC) e.code = "ENOSPC";
  return e;
}

Status fsync_dir(const std::filesystem::path& dir) {
  int fd = posix_ops().open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return io_error("cannot open directory", dir, errno);
  int rc = posix_ops().fsync(fd);
  int err = errno;
  posix_ops().close(fd);
  if (rc != 0) return io_error("cannot fsync directory", dir, err);
  return ok_status();
}

}  // namespace

Status write_file_atomically(const std::filesystem::path& path, std::string_view content,
                             Durability durability) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict on
  // `"." + std::string + ".XXXXXX"` (a known bug of its std::string inlining).
  std::string name = ".";
  name.append(path.filename().native());
  name.append(".XXXXXX");
  std::string tmpl = (dir / name).string();
  int fd = posix_ops().mkstemp(tmpl.data());
  if (fd < 0) return io_error("cannot create a temporary file in", dir, errno);
  posix_ops().fchmod(fd, 0600);
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = posix_ops().write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      posix_ops().close(fd);
      posix_ops().unlink(tmpl.c_str());
      return io_error("cannot write", path, err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (durability != Durability::None && posix_ops().fsync(fd) != 0) {
    int err = errno;
    posix_ops().close(fd);
    posix_ops().unlink(tmpl.c_str());
    return io_error("cannot fsync", path, err);
  }
  if (posix_ops().close(fd) != 0) {
    int err = errno;
    posix_ops().unlink(tmpl.c_str());
    return io_error("cannot close", path, err);
  }
  if (posix_ops().rename(tmpl.c_str(), path.c_str()) != 0) {
    int err = errno;
    posix_ops().unlink(tmpl.c_str());
    return io_error("cannot rename into", path, err);
  }
  return durability == Durability::Full ? fsync_dir(dir) : ok_status();
}

Status ensure_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error::permanent("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return io_error("cannot stat", dir, errno);
  if (!S_ISDIR(st.st_mode)) return Error::permanent(dir.string() + " is not a directory");
  if ((st.st_mode & 022) != 0) {
    return Error::permanent(dir.string() + " is writable by group or others; run: chmod 700 " +
                            dir.string());
  }
  return ok_status();
}

Result<Secret> read_file_secret(const std::filesystem::path& path, std::size_t max_bytes) {
  int fd = posix_ops().open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return io_error("cannot read", path, errno);
  Secret out;
  char buf[4096];
  for (;;) {
    ssize_t n = posix_ops().read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      posix_ops().close(fd);
      std::memset(buf, 0, sizeof buf);
      return io_error("cannot read", path, err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      posix_ops().close(fd);
      std::memset(buf, 0, sizeof buf);
      return Error::permanent(path.string() + " is larger than expected; refusing to read it");
    }
    out.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  posix_ops().close(fd);
  std::memset(buf, 0, sizeof buf);
  return out;
}

Status remove_file(const std::filesystem::path& path, Durability durability) {
  if (posix_ops().unlink(path.c_str()) != 0 && errno != ENOENT)
    return io_error("cannot remove", path, errno);
  if (durability != Durability::Full) return ok_status();
  std::filesystem::path dir = path.parent_path();
  return fsync_dir(dir.empty() ? std::filesystem::path(".") : dir);
}

}  // namespace eca

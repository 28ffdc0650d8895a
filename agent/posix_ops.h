// PosixOps: the system calls agent/atomic_file.cpp makes, called through a table of
// function pointers so that unit tests can make them fail the way a disk does (EINTR,
// short writes, fsync and rename errors) without the OS. Production never changes the
// table; only tests/agent/atomic_file_test.cpp does, while nothing else runs.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace eca {

struct PosixOps {
  int (*open)(const char* path, int flags, mode_t mode);
  int (*mkstemp)(char* tmpl);
  int (*fchmod)(int fd, mode_t mode);
  ssize_t (*read)(int fd, void* buf, std::size_t n);
  ssize_t (*write)(int fd, const void* buf, std::size_t n);
  int (*fsync)(int fd);
  int (*close)(int fd);
  int (*rename)(const char* from, const char* to);
  int (*unlink)(const char* path);
};

// The real system calls.
const PosixOps& real_posix_ops();
// What atomic_file.cpp calls: the real ones unless a test installed others.
const PosixOps& posix_ops();
// Test seam: installs `ops` (null restores the real ones); returns what was installed.
const PosixOps* set_posix_ops_for_testing(const PosixOps* ops);

}  // namespace eca

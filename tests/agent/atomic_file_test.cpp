// write_file_atomically and friends, with the system calls swapped for fakes (the
// agent/posix_ops.h seam) so a disk's failures happen on cue: EINTR, short writes, a
// full disk, fsync, rename and directory fsync errors. Each test checks what a user
// would notice: the old file intact, no temporary file left behind, an error naming the
// path and the errno text.
#include "agent/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/posix_ops.h"

namespace eca {
namespace {

namespace fs = std::filesystem;

// What the fakes do; reset for each test. Plain globals: the fakes are function pointers.
struct FakeDisk {
  int eintr_writes = 0;       // the next N writes fail with EINTR
  std::size_t max_write = 0;  // >0: each write takes at most this many bytes
  bool write_returns_zero = false;
  int fail_file_fsync = 0;  // errno for fsync of a file, 0 = succeed
  int fail_dir_fsync = 0;   // errno for fsync of a directory
  int fail_rename = 0;      // errno for rename
  int writes = 0;
  int dir_fd = -1;  // the last directory opened
};
FakeDisk disk;

PosixOps fake_ops() {
  PosixOps ops = real_posix_ops();
  ops.open = [](const char* path, int flags, mode_t mode) {
    int fd = real_posix_ops().open(path, flags, mode);
    if ((flags & O_DIRECTORY) != 0) disk.dir_fd = fd;
    return fd;
  };
  ops.write = [](int fd, const void* buf, std::size_t n) -> ssize_t {
    ++disk.writes;
    if (disk.eintr_writes > 0) {
      --disk.eintr_writes;
      errno = EINTR;
      return -1;
    }
    if (disk.write_returns_zero) return 0;
    if (disk.max_write > 0 && n > disk.max_write) n = disk.max_write;
    return real_posix_ops().write(fd, buf, n);
  };
  ops.fsync = [](int fd) {
    const int err = fd == disk.dir_fd ? disk.fail_dir_fsync : disk.fail_file_fsync;
    if (err != 0) {
      errno = err;
      return -1;
    }
    return real_posix_ops().fsync(fd);
  };
  ops.close = [](int fd) {
    if (fd == disk.dir_fd) disk.dir_fd = -1;
    return real_posix_ops().close(fd);
  };
  ops.rename = [](const char* from, const char* to) {
    if (disk.fail_rename != 0) {
      errno = disk.fail_rename;
      return -1;
    }
    return real_posix_ops().rename(from, to);
  };
  return ops;
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eca-atomic-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_ = dir_ / "state.json";
    disk = FakeDisk{};
    ops_ = fake_ops();
    set_posix_ops_for_testing(&ops_);
  }
  void TearDown() override {
    set_posix_ops_for_testing(nullptr);
    fs::remove_all(dir_);
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Everything in the directory but the target: temporaries left behind.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path() != file_) out.push_back(e.path().filename().string());
    }
    return out;
  }
  void write_old() { std::ofstream(file_) << "old content"; }
  // A refused write: the old file is intact, no temporary is left, and the error names
  // the operation and path (`what`) and the system's reason for `err`.
  void expect_refused_keeping_the_old_file(const Status& st, const std::string& what, int err) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(read(file_), "old content");
    EXPECT_TRUE(leftovers().empty()) << leftovers().front();
    EXPECT_NE(st.error().message.find(what), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find(std::strerror(err)), std::string::npos) << st.error().message;
  }

  fs::path dir_;
  fs::path file_;
  PosixOps ops_{};
};

TEST_F(AtomicFileTest, WritesTheContentPrivatelyAndLeavesNoTemporary) {
  write_old();
  ASSERT_TRUE(write_file_atomically(file_, "new content").ok());
  EXPECT_EQ(read(file_), "new content");
  EXPECT_TRUE(leftovers().empty());
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AtomicFileTest, InterruptedWritesAreRepeated) {
  disk.eintr_writes = 3;
  ASSERT_TRUE(write_file_atomically(file_, "all of it").ok());
  EXPECT_EQ(read(file_), "all of it");
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(AtomicFileTest, ShortWritesAreContinuedUntilEverythingIsWritten) {
  disk.max_write = 3;
  const std::string content(1000, 'x');
  ASSERT_TRUE(write_file_atomically(file_, content + "end").ok());
  EXPECT_EQ(read(file_), content + "end");
  EXPECT_GE(disk.writes, 334);
}

TEST_F(AtomicFileTest, AFullDiskKeepsTheOldFileAndNamesThePath) {
  write_old();
  disk.write_returns_zero = true;
  auto st = write_file_atomically(file_, "new content");
  expect_refused_keeping_the_old_file(st, file_.string(), ENOSPC);
  EXPECT_EQ(st.error().code, "ENOSPC");
}

TEST_F(AtomicFileTest, FsyncFailureKeepsTheOldFileAndLeavesNoTemporary) {
  write_old();
  disk.fail_file_fsync = EIO;
  expect_refused_keeping_the_old_file(write_file_atomically(file_, "new content"),
                                      "fsync " + file_.string(), EIO);
}

TEST_F(AtomicFileTest, NoFsyncAtAllWhenNoDurabilityIsAsked) {
  write_old();
  disk.fail_file_fsync = EIO;
  disk.fail_dir_fsync = EIO;
  EXPECT_TRUE(write_file_atomically(file_, "metrics", Durability::None).ok());
  EXPECT_EQ(read(file_), "metrics");
}

TEST_F(AtomicFileTest, RenameFailureKeepsTheOldFileAndLeavesNoTemporary) {
  write_old();
  disk.fail_rename = EXDEV;
  expect_refused_keeping_the_old_file(write_file_atomically(file_, "new content"),
                                      "rename into " + file_.string(), EXDEV);
}

// The rename happened, so the file is complete and new; but its survival of a power loss
// is not proven, and that is what the error says (about the directory).
TEST_F(AtomicFileTest, DirectoryFsyncFailureIsReportedWithTheDirectory) {
  write_old();
  disk.fail_dir_fsync = EIO;
  auto st = write_file_atomically(file_, "new content", Durability::Full);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(read(file_), "new content");
  EXPECT_TRUE(leftovers().empty());
  EXPECT_NE(st.error().message.find("fsync directory " + dir_.string()), std::string::npos)
      << st.error().message;
  EXPECT_NE(st.error().message.find(std::strerror(EIO)), std::string::npos) << st.error().message;
  // Content durability does not fsync the directory, so the same disk is no error there.
  EXPECT_TRUE(write_file_atomically(file_, "newer", Durability::Content).ok());
  EXPECT_EQ(read(file_), "newer");
}

TEST_F(AtomicFileTest, RemoveFileReportsADirectoryFsyncFailure) {
  write_old();
  disk.fail_dir_fsync = EIO;
  auto st = remove_file(file_);
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(fs::exists(file_));
  EXPECT_NE(st.error().message.find(std::strerror(EIO)), std::string::npos) << st.error().message;
  EXPECT_TRUE(remove_file(file_, Durability::Content).ok()) << "already gone is fine";
}

TEST_F(AtomicFileTest, ReadFileSecretRefusesOversizeAndNamesAMissingFile) {
  write_old();
  auto all = read_file_secret(file_);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->view(), "old content");
  auto big = read_file_secret(file_, 4);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("larger than expected"), std::string::npos);
  auto missing = read_file_secret(dir_ / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "ENOENT");
  EXPECT_NE(missing.error().message.find((dir_ / "nope").string()), std::string::npos);
}

TEST_F(AtomicFileTest, EnsurePrivateDirRefusesAGroupWritableDirectory) {
  const fs::path d = dir_ / "a" / "b";
  ASSERT_TRUE(ensure_private_dir(d).ok());
  struct stat st {};
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ::chmod(d.c_str(), 0770);
  auto bad = ensure_private_dir(d);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("chmod 700 " + d.string()), std::string::npos);
}

}  // namespace
}  // namespace eca

#include "agent/file_journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace eca {
namespace {

class FileJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eca-journal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ::unsetenv("CREDENTIALS_DIRECTORY");
  }
  void TearDown() override {
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    std::filesystem::remove_all(dir_);
  }
  JournalEntry entry(const std::string& name = "billing", long gen = 3) {
    JournalEntry e;
    e.rotation = name;
    e.generation = gen;
    e.app_id = "0xI000000000001AAA";
    e.consumer_id = "888000000000001AAA";
    e.staged_id = "0Ls000000000001AAA";
    e.key = Secret("3MVG9-journal-key");
    e.secret = Secret("journal-secret-value");
    e.config_fingerprint = "b2:abc";
    e.written_at = "2026-11-27T10:00:00Z";
    return e;
  }
  std::filesystem::path dir_;
};

TEST_F(FileJournalTest, RoundTripsAnEntry) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  ASSERT_TRUE(j.write(entry()).ok());
  auto back = j.read("billing");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->generation, 3);
  EXPECT_EQ((*back)->staged_id, "0Ls000000000001AAA");
  EXPECT_TRUE((*back)->key.equals("3MVG9-journal-key"));
  EXPECT_TRUE((*back)->secret.equals("journal-secret-value"));
  EXPECT_EQ(j.pending(), std::vector<std::string>{"billing"});
  ASSERT_TRUE(j.clear("billing").ok());
  auto gone = j.read("billing");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

// The engine records a successful promote; the record format is the one earlier versions
// wrote (they already read "promoted"), and each phase reads back as written.
TEST_F(FileJournalTest, EachPhaseRoundTrips) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  for (JournalPhase p : {JournalPhase::Intent, JournalPhase::Staged, JournalPhase::Promoted}) {
    JournalEntry e = entry();
    e.phase = p;
    ASSERT_TRUE(j.write(e).ok());
    auto back = j.read("billing");
    ASSERT_TRUE(back.ok() && back->has_value());
    EXPECT_EQ((*back)->phase, p);
  }
}

TEST_F(FileJournalTest, FilesArePrivateAndHoldNoPlaintext) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  ASSERT_TRUE(j.write(entry()).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "journal" / "billing.rec").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "journal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ / "journal.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  std::ifstream in(dir_ / "journal" / "billing.rec", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(raw.find("journal-secret-value"), std::string::npos);
  EXPECT_EQ(raw.find("3MVG9"), std::string::npos);
}

TEST_F(FileJournalTest, TamperedRecordIsRefused) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  ASSERT_TRUE(j.write(entry()).ok());
  auto path = dir_ / "journal" / "billing.rec";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-5, std::ios::end);
  f.put('\x55');
  f.close();
  auto back = j.read("billing");
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().message.find("failed authentication"), std::string::npos);
  EXPECT_NE(back.error().message.find("nothing was promoted"), std::string::npos);
}

TEST_F(FileJournalTest, TruncatedRecordIsRefused) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  ASSERT_TRUE(j.write(entry()).ok());
  auto path = dir_ / "journal" / "billing.rec";
  std::filesystem::resize_file(path, 20);
  auto back = j.read("billing");
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().message.find("truncated"), std::string::npos);
}

TEST_F(FileJournalTest, RecordMovedToAnotherRotationIsRefused) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  ASSERT_TRUE(j.write(entry("billing")).ok());
  std::filesystem::rename(dir_ / "journal" / "billing.rec", dir_ / "journal" / "payroll.rec");
  EXPECT_FALSE(j.read("payroll").ok());
}

TEST_F(FileJournalTest, RecordWrittenWithAnotherKeyIsRefused) {
  {
    FileJournal j(dir_);
    ASSERT_TRUE(j.open().ok());
    ASSERT_TRUE(j.write(entry()).ok());
  }
  std::filesystem::permissions(dir_ / "journal.key", std::filesystem::perms::owner_all);
  std::filesystem::remove(dir_ / "journal.key");
  FileJournal j2(dir_);
  ASSERT_TRUE(j2.open().ok());  // creates a new key
  auto back = j2.read("billing");
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().message.find("another journal key"), std::string::npos);
}

// Root ignores permission bits, so the unwritable journal is simulated by replacing the
// directory with a file after open(): every write then fails, as on a read-only mount.
TEST_F(FileJournalTest, UnwritableJournalFailsClearly) {
  FileJournal j(dir_);
  ASSERT_TRUE(j.open().ok());
  std::filesystem::remove_all(dir_ / "journal");
  std::ofstream(dir_ / "journal") << "not a directory";
  auto st = j.write(entry());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("journal"), std::string::npos);
}

}  // namespace
}  // namespace eca

// crypto/journal_seal: a record opens only for its own rotation, generation and key.
#include "crypto/journal_seal.h"

#include <gtest/gtest.h>

namespace eca {
namespace {

class JournalSeal : public ::testing::Test {
 protected:
  Secret key = journal_seal::new_key();
  const Secret content{std::string_view("{\"phase\":\"staged\"}")};
  std::string record = journal_seal::seal(key, "billing", 7, content);
};

TEST_F(JournalSeal, ARecordOpensToItsContentAndGeneration) {
  auto opened = journal_seal::open(key, "billing", record, "journal record x");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->generation, 7);
  EXPECT_EQ(opened->plain.view(), content.view());
  EXPECT_EQ(record.rfind("ECRJ1\n7\n", 0), 0u) << "the documented header";
  EXPECT_EQ(record.find("staged"), std::string::npos) << "the content is encrypted";
}

TEST_F(JournalSeal, TwoSealsOfTheSameContentDifferByTheirNonce) {
  EXPECT_NE(journal_seal::seal(key, "billing", 7, content), record);
}

TEST_F(JournalSeal, ARecordMovedToAnotherRotationDoesNotOpen) {
  auto opened = journal_seal::open(key, "payroll", record, "journal record payroll.rec");
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("moved from another rotation"), std::string::npos);
  EXPECT_NE(opened.error().message.find("journal record payroll.rec"), std::string::npos);
}

TEST_F(JournalSeal, AnEditedGenerationDoesNotOpen) {
  std::string replayed = record;
  replayed[6] = '8';  // "ECRJ1\n8\n…": the generation is associated data
  EXPECT_FALSE(journal_seal::open(key, "billing", replayed, "r").ok());
}

TEST_F(JournalSeal, AnotherKeyDoesNotOpen) {
  EXPECT_FALSE(journal_seal::open(journal_seal::new_key(), "billing", record, "r").ok());
}

TEST_F(JournalSeal, TruncatedOrForeignFilesSayNothingWasPromoted) {
  for (std::string_view bad : {std::string_view(record).substr(0, 20), std::string_view("ECRJ1\n"),
                               std::string_view("ECRJ1\nx1\n"), std::string_view("hello")}) {
    auto opened = journal_seal::open(key, "billing", bad, "r");
    ASSERT_FALSE(opened.ok()) << bad;
    EXPECT_NE(opened.error().message.find("nothing was promoted"), std::string::npos)
        << opened.error().message;
  }
}

}  // namespace
}  // namespace eca

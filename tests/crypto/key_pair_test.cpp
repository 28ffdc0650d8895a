#include "crypto/key_pair.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace eca {
namespace {

class KeyPairFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eca-keypair-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(KeyPairFiles, WritesPrivateKey0600AndPublicKeyBeside) {
  KeyPair kp = generate_key_pair();
  auto path = dir_ / "eca.key";
  ASSERT_TRUE(write_key_pair(kp, path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_private_key(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->equals(kp.private_key_b64.view()));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "eca.key.pub"));
}

TEST_F(KeyPairFiles, RefusesToOverwriteAnExistingKey) {
  auto path = dir_ / "eca.key";
  ASSERT_TRUE(write_key_pair(generate_key_pair(), path).ok());
  auto again = write_key_pair(generate_key_pair(), path);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("refusing to overwrite"), std::string::npos);
}

TEST_F(KeyPairFiles, RefusesAPrivateKeyReadableByOthers) {
  auto path = dir_ / "eca.key";
  ASSERT_TRUE(write_key_pair(generate_key_pair(), path).ok());
  ::chmod(path.c_str(), 0644);
  auto back = read_private_key(path);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().message.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace eca

#include "crypto/envelope.h"

#include <gtest/gtest.h>

#include "crypto/fingerprint.h"
#include "crypto/key_pair.h"

namespace eca {
namespace {

TEST(Envelope, SealThenOpenRoundTrips) {
  KeyPair kp = generate_key_pair();
  auto sealer = Sealer::from_public_key(kp.public_key_b64);
  ASSERT_TRUE(sealer.ok()) << sealer.error().message;
  std::string env = sealer->seal("3MVG9-consumer-key");
  EXPECT_TRUE(looks_like_envelope(env));
  EXPECT_EQ(env.find("3MVG9"), std::string::npos);
  EXPECT_EQ(env.find_first_of(" \t\r\n"), std::string::npos) << "Infisical would trim it";
  EXPECT_EQ(env.find("${"), std::string::npos) << "Infisical would treat it as a reference";
  auto opened = open_envelope(env, kp.private_key_b64);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->view(), "3MVG9-consumer-key");
}

TEST(Envelope, NamesAlgorithmAndRecipientKey) {
  KeyPair kp = generate_key_pair();
  auto sealer = Sealer::from_public_key(kp.public_key_b64);
  ASSERT_TRUE(sealer.ok());
  std::string env = sealer->seal("v");
  EXPECT_EQ(env.rfind("ecr1:x25519-sealedbox:" + sealer->key_id() + ":", 0), 0u) << env;
  EXPECT_EQ(sealer->key_id().size(), 16u);
}

TEST(Envelope, SealingTwiceGivesDifferentCiphertexts) {
  KeyPair kp = generate_key_pair();
  auto sealer = Sealer::from_public_key(kp.public_key_b64);
  ASSERT_TRUE(sealer.ok());
  EXPECT_NE(sealer->seal("same"), sealer->seal("same"));
}

TEST(Envelope, WrongKeyIsRefusedAndSaysWhichKeyIsNeeded) {
  KeyPair a = generate_key_pair();
  KeyPair b = generate_key_pair();
  auto sealer = Sealer::from_public_key(a.public_key_b64);
  ASSERT_TRUE(sealer.ok());
  auto opened = open_envelope(sealer->seal("secret-value"), b.private_key_b64);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find(sealer->key_id()), std::string::npos);
  EXPECT_EQ(opened.error().message.find("secret-value"), std::string::npos);
}

TEST(Envelope, TamperedOrTruncatedEnvelopeFailsAuthentication) {
  KeyPair kp = generate_key_pair();
  auto sealer = Sealer::from_public_key(kp.public_key_b64);
  ASSERT_TRUE(sealer.ok());
  std::string env = sealer->seal("secret-value");
  std::string tampered = env;
  char& c = tampered[tampered.size() - 6];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(open_envelope(tampered, kp.private_key_b64).ok());
  EXPECT_FALSE(open_envelope(env.substr(0, env.size() - 8), kp.private_key_b64).ok());
}

TEST(Envelope, MalformedInputsGiveClearErrors) {
  KeyPair kp = generate_key_pair();
  for (const char* bad : {"", "plain-value", "ecr1:", "ecr1:x25519-sealedbox:", "ecr1:other:00:AAAA",
                          "ecr1:x25519-sealedbox:0011223344556677:!!!"}) {
    auto r = open_envelope(bad, kp.private_key_b64);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().message.empty());
    }
  }
}

TEST(Envelope, RejectsABadPublicKey) {
  EXPECT_FALSE(Sealer::from_public_key("not base64").ok());
  EXPECT_FALSE(Sealer::from_public_key("AAAA").ok());  // valid base64, wrong length
}

TEST(Fingerprint, IsStableAndDoesNotRevealTheKey) {
  std::string fp = fingerprint("3MVG9abcdef");
  EXPECT_EQ(fp, fingerprint("3MVG9abcdef"));
  EXPECT_NE(fp, fingerprint("3MVG9abcdeg"));
  EXPECT_EQ(fp.rfind("b2:", 0), 0u);
  EXPECT_EQ(fp.size(), 35u);
  EXPECT_EQ(fp.find("3MVG9"), std::string::npos);
  EXPECT_EQ(short_fingerprint(fp).size(), 12u);
}

}  // namespace
}  // namespace eca

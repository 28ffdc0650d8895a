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
  for (const char* bad : {"", "plain-value", "ecr1:", "ecr1:x25519-sealedbox:",
                          "ecr1:other:00:AAAA", "ecr1:x25519-sealedbox:0011223344556677:!!!"}) {
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

TEST(Envelope, SeveralRecipientsEachOpenTheirOwnBox) {
  std::vector<KeyPair> keys;
  std::vector<std::string> publics;
  for (int i = 0; i < 3; ++i) {
    keys.push_back(generate_key_pair());
    publics.push_back(keys.back().public_key_b64);
  }
  auto sealer = Sealer::from_public_keys(publics);
  ASSERT_TRUE(sealer.ok()) << sealer.error().message;
  const std::string env = sealer->seal("3MVG9-consumer-key");
  EXPECT_EQ(env.rfind("ecr2:x25519-sealedbox:", 0), 0u) << env;
  EXPECT_EQ(env.find("3MVG9"), std::string::npos);
  EXPECT_EQ(env.find_first_of(" \t\r\n"), std::string::npos) << "Infisical would trim it";
  EXPECT_EQ(env.find("${"), std::string::npos);
  EXPECT_EQ(envelope_key_ids(env), sealer->key_ids());
  for (const auto& kp : keys) {
    auto opened = open_envelope(env, kp.private_key_b64);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(opened->view(), "3MVG9-consumer-key");
  }
  // A key that is not among them is told which keys would open it.
  KeyPair outsider = generate_key_pair();
  auto refused = open_envelope(env, outsider.private_key_b64);
  ASSERT_FALSE(refused.ok());
  for (const auto& id : sealer->key_ids()) {
    EXPECT_NE(refused.error().message.find(id), std::string::npos) << refused.error().message;
  }
}

TEST(Envelope, OneRecipientIsStillWrittenAsEcr1SoOlderConsumersOpenIt) {
  KeyPair kp = generate_key_pair();
  auto sealer = Sealer::from_public_keys({kp.public_key_b64});
  ASSERT_TRUE(sealer.ok());
  const std::string env = sealer->seal("v");
  EXPECT_EQ(env.rfind("ecr1:x25519-sealedbox:" + sealer->key_id() + ":", 0), 0u) << env;
  EXPECT_EQ(env.find(';'), std::string::npos);
}

TEST(Envelope, EachBoxOfAMultiRecipientValueIsAnOrdinarySealedBox) {
  // A consumer with only a libsodium binding takes its box and calls crypto_box_seal_open:
  // the ecr2 value is the ecr1 boxes joined, nothing else.
  KeyPair a = generate_key_pair();
  KeyPair b = generate_key_pair();
  auto sealer = Sealer::from_public_keys({a.public_key_b64, b.public_key_b64});
  ASSERT_TRUE(sealer.ok());
  const std::string env = sealer->seal("secret-value");
  const std::string body = env.substr(std::string("ecr2:x25519-sealedbox:").size());
  const auto semi = body.find(';');
  ASSERT_NE(semi, std::string::npos);
  const std::string as_ecr1 = "ecr1:x25519-sealedbox:" + body.substr(semi + 1);
  auto opened = open_envelope(as_ecr1, b.private_key_b64);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->view(), "secret-value");
}

TEST(Envelope, TamperingWithAnyBoxFailsForItsOwnerOnly) {
  KeyPair a = generate_key_pair();
  KeyPair b = generate_key_pair();
  auto sealer = Sealer::from_public_keys({a.public_key_b64, b.public_key_b64});
  ASSERT_TRUE(sealer.ok());
  std::string env = sealer->seal("secret-value");
  char& c = env[env.size() - 6];  // inside b's box, the last one
  c = c == 'A' ? 'B' : 'A';
  EXPECT_TRUE(open_envelope(env, a.private_key_b64).ok());
  auto broken = open_envelope(env, b.private_key_b64);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("authentication"), std::string::npos);
}

TEST(Envelope, RecipientListIsCheckedWhenTheSealerIsMade) {
  KeyPair a = generate_key_pair();
  EXPECT_FALSE(Sealer::from_public_keys({}).ok());
  auto twice = Sealer::from_public_keys({a.public_key_b64, a.public_key_b64});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("twice"), std::string::npos);
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kMaxRecipients; ++i)
    many.push_back(generate_key_pair().public_key_b64);
  EXPECT_FALSE(Sealer::from_public_keys(many).ok());
  EXPECT_FALSE(Sealer::from_public_keys({a.public_key_b64, "AAAA"}).ok());
}

// Eight recipients of a Salesforce consumer key (85 characters) and secret (64 hex) stay
// small next to Infisical's value limits (several kilobytes).
TEST(Envelope, EightRecipientsStayCompact) {
  std::vector<std::string> publics;
  for (int i = 0; i < 8; ++i) publics.push_back(generate_key_pair().public_key_b64);
  auto sealer = Sealer::from_public_keys(publics);
  ASSERT_TRUE(sealer.ok());
  const std::string key(85, 'K');
  const std::string env = sealer->seal(key);
  // Per box: 16 hex id, ':', base64 of (85 + 48) bytes = 180, ';'.
  EXPECT_LE(env.size(), 22u + 8u * (16u + 1u + 180u + 1u));
  EXPECT_LT(env.size(), 2048u);
}

TEST(Envelope, MalformedMultiRecipientInputsGiveClearErrors) {
  KeyPair kp = generate_key_pair();
  for (const char* bad :
       {"ecr2:", "ecr2:x25519-sealedbox:", "ecr2:x25519-sealedbox:0011223344556677",
        "ecr2:x25519-sealedbox:0011223344556677:AAAA;", "ecr2:x25519-sealedbox:;",
        "ecr2:x25519-sealedbox:XYZ:AAAA", "ecr2:other:0011223344556677:AAAA",
        "ecr1:x25519-sealedbox:0011223344556677:AA;0011223344556677:AA"}) {
    auto r = open_envelope(bad, kp.private_key_b64);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().message.empty());
    }
  }
  std::string too_many = "ecr2:x25519-sealedbox:";
  for (std::size_t i = 0; i <= kMaxRecipients; ++i)
    too_many += (i ? ";" : "") + std::string("0011223344556677:AAAA");
  auto r = open_envelope(too_many, kp.private_key_b64);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("recipients"), std::string::npos);
  EXPECT_TRUE(envelope_key_ids(too_many).empty());
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

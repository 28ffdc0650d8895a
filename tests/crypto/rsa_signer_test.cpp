// RsaSigner: RS256 with PEM keys as operators will hand them over (PKCS#8, PKCS#1), and the
// keys it must refuse with a message that says what to do instead.
#include "crypto/rsa_signer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

namespace eca {
namespace {

// RSA generation is slow on a shared machine: one key of each kind for the whole file.
const Secret& pkcs8_key() {
  static const Secret key = generate_rsa_private_key_pem(2048);
  return key;
}
const Secret& pkcs1_key() {
  static const Secret key = generate_rsa_private_key_pem(2048, /*pkcs1=*/true);
  return key;
}

// Any key OpenSSL can make, as PKCS#8 PEM, optionally encrypted with a passphrase.
Secret pem_of(const char* type, int rsa_bits, bool encrypted = false) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  if (rsa_bits > 0) EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits);
  if (std::string(type) == "EC") EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256");
  EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &key), 1);
  BIO* bio = BIO_new(BIO_s_mem());
  static char pass[] = "correct horse";
  PEM_write_bio_PrivateKey(bio, key, encrypted ? EVP_aes_256_cbc() : nullptr,
                           encrypted ? reinterpret_cast<unsigned char*>(pass) : nullptr,
                           encrypted ? 13 : 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  Secret out(std::string_view(data, static_cast<std::size_t>(n)));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return out;
}

std::string refusal(const Secret& pem) {
  auto s = RsaSigner::from_pem(pem, "private_key_file");
  EXPECT_FALSE(s.ok());
  return s ? std::string() : s.error().message;
}

TEST(RsaSignerTest, SignatureVerifiesWithTheKeysCertificateForBothPemForms) {
  for (const Secret* pem : {&pkcs8_key(), &pkcs1_key()}) {
    auto signer = RsaSigner::from_pem(*pem, "key");
    ASSERT_TRUE(signer.ok()) << signer.error().message;
    EXPECT_EQ(signer->bits(), 2048);
    auto sig = signer->sign_rs256("header.claims");
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(sig->size(), 256u);
    const std::string cert = self_signed_certificate_pem(*pem, "test");
    EXPECT_TRUE(rs256_verify(cert, "header.claims", *sig));
    EXPECT_TRUE(rs256_verify(signer->public_key_pem(), "header.claims", *sig));
    EXPECT_FALSE(rs256_verify(cert, "header.claimz", *sig)) << "signature covers the data";
  }
}

TEST(RsaSignerTest, AnotherKeysCertificateDoesNotVerify) {
  auto signer = RsaSigner::from_pem(pkcs8_key(), "key");
  ASSERT_TRUE(signer.ok());
  auto sig = signer->sign_rs256("data");
  ASSERT_TRUE(sig.ok());
  EXPECT_FALSE(rs256_verify(self_signed_certificate_pem(pkcs1_key(), "other"), "data", *sig));
  EXPECT_FALSE(rs256_verify("not a pem", "data", *sig));
}

TEST(RsaSignerTest, ShortRsaKeyIsRefusedNamingTheMinimum) {
  const std::string why = refusal(pem_of("RSA", 1024));
  EXPECT_NE(why.find("1024-bit"), std::string::npos) << why;
  EXPECT_NE(why.find("2048"), std::string::npos) << why;
}

TEST(RsaSignerTest, EcKeyIsRefusedBecauseSalesforceTakesRsaOnly) {
  const std::string why = refusal(pem_of("EC", 0));
  EXPECT_NE(why.find("RSA keys only"), std::string::npos) << why;
}

TEST(RsaSignerTest, EncryptedKeyIsRefusedWithTheCommandToDecryptIt) {
  const std::string why = refusal(pem_of("RSA", 2048, /*encrypted=*/true));
  EXPECT_NE(why.find("passphrase"), std::string::npos) << why;
  EXPECT_NE(why.find("openssl pkey"), std::string::npos) << why;
}

TEST(RsaSignerTest, CertificateOrGarbageInsteadOfTheKeyIsNamedAsSuch) {
  const std::string cert = self_signed_certificate_pem(pkcs8_key(), "test");
  EXPECT_NE(refusal(Secret(cert)).find("certificate, not a private key"), std::string::npos);
  EXPECT_NE(refusal(Secret("hunter2")).find("not PEM"), std::string::npos);
}

TEST(RsaSignerTest, DamagedKeyErrorQuotesNoneOfTheKey) {
  std::string pem(pkcs8_key().view());
  const std::string body = pem.substr(40, 64);
  pem[100] = pem[100] == 'A' ? 'B' : 'A';
  pem.erase(200, 50);
  const std::string why = refusal(Secret(pem));
  EXPECT_EQ(why.find(body.substr(0, 16)), std::string::npos) << why;
  EXPECT_NE(why.find("private_key_file"), std::string::npos) << why;
}

}  // namespace
}  // namespace eca

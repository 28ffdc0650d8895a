#include "crypto/rsa_signer.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <mutex>

namespace eca {
namespace {

// Private key numbers are allocated from this heap once it exists (OpenSSL's ASN.1
// decoder uses BN_secure_new for them). Failing to lock it is not fatal: OpenSSL then
// uses ordinary memory, as it would without the call.
void init_secure_heap() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (CRYPTO_secure_malloc_initialized() == 0) CRYPTO_secure_malloc_init(1 << 16, 32);
  });
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr read_bio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string_view bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  return n > 0 && data != nullptr ? std::string_view(data, static_cast<std::size_t>(n))
                                  : std::string_view();
}

// Refuses to prompt: an encrypted key cannot be used unattended.
int no_passphrase(char*, int, int, void* encrypted) {
  *static_cast<bool*>(encrypted) = true;
  return 0;
}

// Why a PEM text is not a usable key, judged from its armour lines only.
std::string why_unreadable(std::string_view pem, bool encrypted) {
  auto has = [pem](std::string_view s) { return pem.find(s) != std::string_view::npos; };
  if (encrypted || has("ENCRYPTED")) {
    return "is encrypted with a passphrase, which an unattended agent cannot enter; write an "
           "unencrypted copy readable only by the agent (openssl pkey -in KEY -out NEW)";
  }
  if (has("BEGIN CERTIFICATE") && !has("PRIVATE KEY")) {
    return "holds a certificate, not a private key (the certificate goes to the External "
           "Client App; the agent needs the private key)";
  }
  if (has("BEGIN PUBLIC KEY")) return "holds a public key, not the private key";
  if (!has("-----BEGIN")) return "is not PEM (expected \"-----BEGIN PRIVATE KEY-----\")";
  return "is not a readable PEM private key (PKCS#8 \"BEGIN PRIVATE KEY\" or PKCS#1 \"BEGIN "
         "RSA PRIVATE KEY\")";
}

PkeyPtr public_key_of(std::string_view pem) {
  auto bio = read_bio(pem);
  if (pem.find("BEGIN CERTIFICATE") != std::string_view::npos) {
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    return PkeyPtr(cert ? X509_get_pubkey(cert.get()) : nullptr);
  }
  return PkeyPtr(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

struct RsaSigner::Key {
  PkeyPtr pkey;
};

RsaSigner::RsaSigner(std::unique_ptr<Key> key) : key_(std::move(key)) {}
RsaSigner::RsaSigner(RsaSigner&&) noexcept = default;
RsaSigner& RsaSigner::operator=(RsaSigner&&) noexcept = default;
RsaSigner::~RsaSigner() = default;

Result<RsaSigner> RsaSigner::from_pem(const Secret& pem, const std::string& what) {
  init_secure_heap();
  auto bio = read_bio(pem.view());
  bool encrypted = false;
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, &encrypted));
  ERR_clear_error();  // OpenSSL's queue would otherwise leak into later, unrelated errors
  if (!pkey) return Error::permanent(what + " " + why_unreadable(pem.view(), encrypted));
  if (EVP_PKEY_is_a(pkey.get(), "RSA") == 0) {
    return Error::permanent(what + " holds a " + EVP_PKEY_get0_type_name(pkey.get()) +
                            " key; Salesforce's JWT bearer flow takes RSA keys only (" +
                            std::to_string(kMinBits) + " bits or more)");
  }
  const int bits = EVP_PKEY_get_bits(pkey.get());
  if (bits < kMinBits) {
    return Error::permanent(what + " holds a " + std::to_string(bits) + "-bit RSA key; use " +
                            std::to_string(kMinBits) +
                            " bits or more (openssl genpkey -algorithm RSA -pkeyopt "
                            "rsa_keygen_bits:2048)");
  }
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return RsaSigner(std::move(key));
}

int RsaSigner::bits() const {
  return EVP_PKEY_get_bits(key_->pkey.get());
}

Result<std::string> RsaSigner::sign_rs256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    ERR_clear_error();
    return Error::permanent("RS256 signing could not start (OpenSSL)");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    ERR_clear_error();
    return Error::permanent("RS256 signing failed (OpenSSL)");
  }
  sig.resize(len);
  return sig;
}

std::string RsaSigner::public_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) != 1) return {};
  return std::string(bio_contents(bio.get()));
}

bool rs256_verify(std::string_view certificate_or_public_key_pem, std::string_view data,
                  std::string_view signature) {
  PkeyPtr pkey = public_key_of(certificate_or_public_key_pem);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const bool ok =
      pkey && ctx && EVP_PKEY_is_a(pkey.get(), "RSA") != 0 &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  ERR_clear_error();
  return ok;
}

Secret generate_rsa_private_key_pem(int bits, bool pkcs1) {
  init_secure_heap();
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    ERR_clear_error();
    return {};
  }
  PkeyPtr pkey(raw);
  BioPtr bio(BIO_new(BIO_s_secmem()));
  const int written = pkcs1 ? PEM_write_bio_PrivateKey_traditional(bio.get(), pkey.get(), nullptr,
                                                                   nullptr, 0, nullptr, nullptr)
                            : PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0,
                                                       nullptr, nullptr);
  if (written != 1) return {};
  return Secret(bio_contents(bio.get()));
}

std::string self_signed_certificate_pem(const Secret& private_key_pem,
                                        const std::string& common_name) {
  auto bio = read_bio(private_key_pem.view());
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!pkey || !cert) return {};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), pkey.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  BioPtr out(BIO_new(BIO_s_mem()));
  if (X509_sign(cert.get(), pkey.get(), EVP_sha256()) == 0 ||
      PEM_write_bio_X509(out.get(), cert.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(bio_contents(out.get()));
}

}  // namespace eca

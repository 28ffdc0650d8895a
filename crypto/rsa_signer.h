// RsaSigner: RS256 signatures (RSASSA-PKCS1-v1_5 over SHA-256) with an RSA private key,
// for the JWT assertions of Salesforce's JWT bearer flow.
//
// libsodium has no RSA, so this is OpenSSL's libcrypto. The PEM text comes in a Secret and
// is parsed without a copy; the key's private numbers then live in OpenSSL's secure heap
// (mlock'ed, excluded from core dumps, zeroed on free), set up on first use.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace eca {

class RsaSigner {
 public:
  static constexpr int kMinBits = 2048;

  // A PEM private key: PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY"),
  // unencrypted, RSA of at least kMinBits. The error names what is wrong with it (never
  // any of its content); `what` names the key's origin for that message.
  static Result<RsaSigner> from_pem(const Secret& pem, const std::string& what);

  RsaSigner(RsaSigner&&) noexcept;
  RsaSigner& operator=(RsaSigner&&) noexcept;
  ~RsaSigner();

  // The raw signature (bits()/8 bytes) of `data`.
  Result<std::string> sign_rs256(std::string_view data) const;
  int bits() const;
  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"): what a certificate for it must carry.
  std::string public_key_pem() const;

 private:
  struct Key;
  explicit RsaSigner(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

// Checks an RS256 signature against a PEM X.509 certificate or public key: false on any
// mismatch or unreadable PEM. (For the sandbox's fake org and for tests.)
bool rs256_verify(std::string_view certificate_or_public_key_pem, std::string_view data,
                  std::string_view signature);

// A new RSA key as PKCS#8 PEM (`pkcs1` = true: the older "RSA PRIVATE KEY" form), and a
// self-signed certificate for it: test and demo key material.
Secret generate_rsa_private_key_pem(int bits, bool pkcs1 = false);
std::string self_signed_certificate_pem(const Secret& private_key_pem,
                                        const std::string& common_name);

}  // namespace eca

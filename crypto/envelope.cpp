#include "crypto/envelope.h"

#include <sodium.h>

#include <cstring>
#include <vector>

#include "crypto/key_pair.h"

namespace eca {
namespace {
constexpr std::string_view kAlgorithm = "x25519-sealedbox";
}

Result<Sealer> Sealer::from_public_key(std::string_view public_key_b64) {
  auto raw = decode_key_b64(public_key_b64, crypto_box_PUBLICKEYBYTES, "recipient public key");
  if (!raw) return raw.error();
  Sealer s;
  s.pk_ = std::move(raw.value());
  s.key_id_ = eca::key_id(s.pk_);
  return s;
}

std::string Sealer::seal(std::string_view plaintext) const {
  std::vector<unsigned char> ct(plaintext.size() + crypto_box_SEALBYTES);
  crypto_box_seal(ct.data(), reinterpret_cast<const unsigned char*>(plaintext.data()),
                  plaintext.size(), reinterpret_cast<const unsigned char*>(pk_.data()));
  std::string b64(sodium_base64_ENCODED_LEN(ct.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), ct.data(), ct.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  std::string out;
  out.reserve(kEnvelopePrefix.size() + kAlgorithm.size() + key_id_.size() + b64.size() + 3);
  out.append(kEnvelopePrefix).append(kAlgorithm).append(":").append(key_id_).append(":");
  out.append(b64);
  return out;
}

bool looks_like_envelope(std::string_view value) {
  return value.substr(0, kEnvelopePrefix.size()) == kEnvelopePrefix;
}

Result<Secret> open_envelope(std::string_view envelope, const Secret& private_key_b64) {
  if (!looks_like_envelope(envelope)) {
    return Error::permanent("not an eca-rotator envelope (expected it to start with \"ecr1:\")");
  }
  std::string_view rest = envelope.substr(kEnvelopePrefix.size());
  auto c1 = rest.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : rest.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return Error::permanent("malformed envelope: missing fields");
  std::string_view alg = rest.substr(0, c1);
  std::string_view kid = rest.substr(c1 + 1, c2 - c1 - 1);
  std::string_view b64 = rest.substr(c2 + 1);
  if (alg != kAlgorithm) {
    return Error::permanent("envelope uses algorithm \"" + std::string(alg.substr(0, 32)) +
                            "\", this version knows only " + std::string(kAlgorithm));
  }
  auto sk = decode_key_b64(private_key_b64.view(), crypto_box_SECRETKEYBYTES, "private key");
  if (!sk) return sk.error();
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  crypto_scalarmult_base(pk, reinterpret_cast<const unsigned char*>(sk->data()));
  std::string my_kid = key_id(std::string(reinterpret_cast<char*>(pk), sizeof pk));
  if (kid != my_kid) {
    wipe_string(sk.value());
    return Error::permanent("envelope was sealed to key " + std::string(kid.substr(0, 16)) +
                            ", but the private key given is " + my_kid);
  }
  std::vector<unsigned char> ct(b64.size() + 1);  // never empty: a null output is UB for libsodium
  std::size_t ct_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(ct.data(), ct.size(), b64.data(), b64.size(), nullptr, &ct_len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size() || ct_len < crypto_box_SEALBYTES) {
    wipe_string(sk.value());
    return Error::permanent("malformed envelope: the payload is not valid base64 or is too short");
  }
  Secret plain = Secret::zeroed(ct_len - crypto_box_SEALBYTES);
  int rc = crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()), ct.data(), ct_len,
                                pk, reinterpret_cast<const unsigned char*>(sk->data()));
  wipe_string(sk.value());
  if (rc != 0) {
    return Error::permanent("envelope failed authentication: it was altered or truncated");
  }
  return plain;
}

}  // namespace eca

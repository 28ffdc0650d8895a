// The fixed keys of the fuzz targets, shared with make_seeds.cpp so the
// committed seeds (a sealed envelope, an encrypted journal record) stay valid.
// Test keys only: they protect nothing.
#pragma once

#include <sodium.h>

#include <array>
#include <cstring>
#include <string>

#include "common/secret.h"

namespace eca::fuzz {

inline std::string to_base64(const unsigned char* p, std::size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

struct EnvelopeKeys {
  std::string public_b64;
  Secret private_b64;
  // A second recipient, for multi-recipient (ecr2) envelopes.
  std::string second_public_b64;
  Secret second_private_b64;
};

// X25519 pairs from crypto_box_seed_keypair over the seed bytes 0x00..0x1f (the first)
// and 0x40..0x5f (the second). Call after sodium_init().
inline EnvelopeKeys envelope_keys() {
  auto pair = [](unsigned char first, std::string& pub, Secret& priv) {
    unsigned char seed[crypto_box_SEEDBYTES];
    for (std::size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(first + i);
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char sk[crypto_box_SECRETKEYBYTES];
    crypto_box_seed_keypair(pk, sk, seed);
    pub = to_base64(pk, sizeof pk);
    priv = Secret(to_base64(sk, sizeof sk));
    sodium_memzero(sk, sizeof sk);
  };
  EnvelopeKeys k;
  pair(0x00, k.public_b64, k.private_b64);
  pair(0x40, k.second_public_b64, k.second_private_b64);
  return k;
}

// Journal key (the content of <state_dir>/journal.key): bytes 0xa0..0xbf.
inline std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> journal_key() {
  std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(0xa0 + i);
  return k;
}

}  // namespace eca::fuzz

#include "crypto/journal_seal.h"

#include <sodium.h>

namespace eca::journal_seal {
namespace {

constexpr std::string_view kMagic = "ECRJ1\n";
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

std::string associated_data(const std::string& rotation, long generation) {
  return "eca-rotator journal v1\n" + rotation + "\n" + std::to_string(generation);
}

const unsigned char* bytes(const Secret& s) {
  return reinterpret_cast<const unsigned char*>(s.view().data());
}

}  // namespace

Secret new_key() {
  Secret key = Secret::zeroed(kKeyBytes);
  crypto_aead_xchacha20poly1305_ietf_keygen(reinterpret_cast<unsigned char*>(key.data()));
  return key;
}

std::string seal(const Secret& key, const std::string& rotation, long generation,
                 const Secret& plain) {
  const std::string ad = associated_data(rotation, generation);
  std::string out = std::string(kMagic) + std::to_string(generation) + "\n";
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  randombytes_buf(nonce, sizeof nonce);
  out.append(reinterpret_cast<char*>(nonce), sizeof nonce);
  const std::size_t off = out.size();
  out.resize(off + plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data() + off), &clen, bytes(plain), plain.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce, bytes(key));
  out.resize(off + clen);
  return out;
}

Result<Opened> open(const Secret& key, const std::string& rotation, std::string_view v,
                    const std::string& what) {
  if (v.substr(0, kMagic.size()) != kMagic) {
    return Error::permanent(what +
                            " is not an eca-rotator journal record; nothing was "
                            "promoted from it. Move it away after checking `status`");
  }
  v.remove_prefix(kMagic.size());
  const auto nl = v.find('\n');
  if (nl == std::string_view::npos || nl == 0 || nl > 18) {
    return Error::permanent(what + " is truncated; nothing was promoted from it");
  }
  Opened opened;
  for (char c : v.substr(0, nl)) {
    if (c < '0' || c > '9')
      return Error::permanent(what + " has a corrupt header; nothing was promoted from it");
    opened.generation = opened.generation * 10 + (c - '0');
  }
  v.remove_prefix(nl + 1);
  if (v.size() <
      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Error::permanent(what + " is truncated; nothing was promoted from it");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(v.data());
  v.remove_prefix(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  opened.plain = Secret::zeroed(v.size());
  unsigned long long plen = 0;
  const std::string ad = associated_data(rotation, opened.generation);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(opened.plain.data()), &plen, nullptr,
          reinterpret_cast<const unsigned char*>(v.data()), v.size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce, bytes(key)) != 0) {
    return Error::permanent(what +
                            " failed authentication (tampered, truncated, moved from another "
                            "rotation, or written with another journal key); nothing was "
                            "promoted from it");
  }
  opened.plain.truncate(plen);
  return opened;
}

}  // namespace eca::journal_seal

#include "crypto/envelope.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "crypto/key_pair.h"

namespace eca {
namespace {

constexpr std::string_view kAlgorithm = "x25519-sealedbox";
constexpr std::size_t kKeyIdLength = 16;

struct Box {
  std::string_view key_id;
  std::string_view b64;
};

struct Parsed {
  std::vector<Box> boxes;
  std::string error;  // empty when parsed
};

std::string base64(const unsigned char* p, std::size_t n) {
  std::string b64(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return b64;
}

bool is_key_id(std::string_view s) {
  return s.size() == kKeyIdLength && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// "<key id>:<box>" -> Box; false when the separator or the id is missing.
bool split_box(std::string_view item, Box& out) {
  auto colon = item.find(':');
  if (colon == std::string_view::npos || !is_key_id(item.substr(0, colon))) return false;
  out = {item.substr(0, colon), item.substr(colon + 1)};
  return true;
}

Parsed parse(std::string_view envelope) {
  Parsed p;
  const bool multi = envelope.substr(0, kMultiEnvelopePrefix.size()) == kMultiEnvelopePrefix;
  if (!multi && envelope.substr(0, kEnvelopePrefix.size()) != kEnvelopePrefix) {
    p.error = "not an eca-rotator envelope (expected it to start with \"ecr1:\" or \"ecr2:\")";
    return p;
  }
  std::string_view rest = envelope.substr(kEnvelopePrefix.size());
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) {
    p.error = "malformed envelope: missing fields";
    return p;
  }
  std::string_view alg = rest.substr(0, colon);
  if (alg != kAlgorithm) {
    p.error = "envelope uses algorithm \"" + std::string(alg.substr(0, 32)) +
              "\", this version knows only " + std::string(kAlgorithm);
    return p;
  }
  rest = rest.substr(colon + 1);
  // ecr1 holds exactly one box, so a ';' there belongs to (invalid) base64, not a list.
  while (true) {
    auto semi = multi ? rest.find(';') : std::string_view::npos;
    Box b;
    if (!split_box(rest.substr(0, semi), b)) {
      p.boxes.clear();
      p.error = "malformed envelope: missing fields or a key id that is not 16 hex digits";
      return p;
    }
    p.boxes.push_back(b);
    if (p.boxes.size() > kMaxRecipients) {
      p.boxes.clear();
      p.error = "malformed envelope: more than " + std::to_string(kMaxRecipients) + " recipients";
      return p;
    }
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
  }
  return p;
}

std::string joined(const std::vector<Box>& boxes) {
  std::string s;
  for (const auto& b : boxes) s += (s.empty() ? "" : ", ") + std::string(b.key_id);
  return s;
}

}  // namespace

Result<Sealer> Sealer::from_public_key(std::string_view public_key_b64) {
  return from_public_keys({std::string(public_key_b64)});
}

Result<Sealer> Sealer::from_public_keys(const std::vector<std::string>& public_keys_b64) {
  if (public_keys_b64.empty()) return Error::permanent("no recipient public key given");
  if (public_keys_b64.size() > kMaxRecipients) {
    return Error::permanent("at most " + std::to_string(kMaxRecipients) +
                            " recipient public keys can share one envelope");
  }
  Sealer s;
  for (const auto& b64 : public_keys_b64) {
    auto raw = decode_key_b64(b64, crypto_box_PUBLICKEYBYTES, "recipient public key");
    if (!raw) return raw.error();
    std::string id = eca::key_id(*raw);
    for (const auto& r : s.recipients_) {
      if (r.key_id == id)
        return Error::permanent("recipient public key " + id + " is listed twice");
    }
    s.recipients_.push_back({std::move(raw.value()), std::move(id)});
  }
  return s;
}

std::vector<std::string> Sealer::key_ids() const {
  std::vector<std::string> ids;
  for (const auto& r : recipients_) ids.push_back(r.key_id);
  return ids;
}

std::string Sealer::seal(std::string_view plaintext) const {
  std::vector<unsigned char> ct(plaintext.size() + crypto_box_SEALBYTES);
  std::string out(recipients_.size() == 1 ? kEnvelopePrefix : kMultiEnvelopePrefix);
  out.append(kAlgorithm).append(":");
  for (std::size_t i = 0; i < recipients_.size(); ++i) {
    crypto_box_seal(ct.data(), reinterpret_cast<const unsigned char*>(plaintext.data()),
                    plaintext.size(),
                    reinterpret_cast<const unsigned char*>(recipients_[i].pk.data()));
    if (i > 0) out.append(";");
    out.append(recipients_[i].key_id).append(":").append(base64(ct.data(), ct.size()));
  }
  return out;
}

bool looks_like_envelope(std::string_view value) {
  return value.substr(0, kEnvelopePrefix.size()) == kEnvelopePrefix ||
         value.substr(0, kMultiEnvelopePrefix.size()) == kMultiEnvelopePrefix;
}

std::vector<std::string> envelope_key_ids(std::string_view envelope) {
  std::vector<std::string> ids;
  for (const auto& b : parse(envelope).boxes) ids.emplace_back(b.key_id);
  return ids;
}

Result<Secret> open_envelope(std::string_view envelope, const Secret& private_key_b64) {
  Parsed parsed = parse(envelope);
  if (!parsed.error.empty()) return Error::permanent(parsed.error);
  auto sk = decode_key_b64(private_key_b64.view(), crypto_box_SECRETKEYBYTES, "private key");
  if (!sk) return sk.error();
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  crypto_scalarmult_base(pk, reinterpret_cast<const unsigned char*>(sk->data()));
  const std::string my_kid = key_id(std::string(reinterpret_cast<char*>(pk), sizeof pk));
  auto mine = std::find_if(parsed.boxes.begin(), parsed.boxes.end(),
                           [&](const Box& b) { return b.key_id == my_kid; });
  if (mine == parsed.boxes.end()) {
    wipe_string(sk.value());
    return Error::permanent(std::string(parsed.boxes.size() == 1 ? "envelope was sealed to key "
                                                                 : "envelope was sealed to keys ") +
                            joined(parsed.boxes) + ", but the private key given is " + my_kid);
  }
  const std::string_view b64 = mine->b64;
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

// Envelope: the text form of a value sealed to one or more X25519 public keys.
//
//   ecr1:x25519-sealedbox:<key id>:<box>                       one recipient
//   ecr2:x25519-sealedbox:<key id>:<box>[;<key id>:<box>]...   one box per recipient
//
// <key id> is 16 hex digits naming the recipient's public key, <box> the standard base64
// of crypto_box_seal's output for that key. Each box opens alone with any libsodium binding
// (PyNaCl SealedBox, libsodium.js, Go's box.OpenAnonymous). A single recipient is written as
// ecr1, so consumers that know only ecr1 keep working; readers accept both.
//
// Versioned and self-describing so consumers can tell what they hold and a future format
// can coexist. No whitespace and no "${" can occur in it, so Infisical's trimming and
// secret-reference checks leave it untouched.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"

namespace eca {

constexpr std::string_view kEnvelopePrefix = "ecr1:";
constexpr std::string_view kMultiEnvelopePrefix = "ecr2:";
// More boxes than this in one value is refused on both sides: it keeps an envelope within
// Infisical's value limits and bounds what a reader parses.
constexpr std::size_t kMaxRecipients = 16;

class Sealer {
 public:
  // public_key_b64: standard base64 of the 32-byte X25519 public key.
  static Result<Sealer> from_public_key(std::string_view public_key_b64);
  // One box per key, in the order given; duplicates and more than kMaxRecipients are refused.
  static Result<Sealer> from_public_keys(const std::vector<std::string>& public_keys_b64);
  std::string seal(std::string_view plaintext) const;
  // The first recipient's key id.
  const std::string& key_id() const { return recipients_.front().key_id; }
  std::vector<std::string> key_ids() const;

 private:
  struct Recipient {
    std::string pk;
    std::string key_id;
  };
  std::vector<Recipient> recipients_;
};

// Starts like an envelope of a version this build knows (ecr1 or ecr2).
bool looks_like_envelope(std::string_view value);

// The key ids an envelope was sealed to, in order; empty when it is not a well-formed
// envelope. Never fails loudly: meant for messages ("sealed to keys A, B").
std::vector<std::string> envelope_key_ids(std::string_view envelope);

// Opens an envelope with the private key (base64 of 32 bytes), picking the box sealed to
// it. Errors say whether the text is malformed, names other keys, or fails authentication,
// never echoing the input.
Result<Secret> open_envelope(std::string_view envelope, const Secret& private_key_b64);

}  // namespace eca

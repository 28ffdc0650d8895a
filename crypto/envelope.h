// Envelope: the text form of a value sealed to a recipient's X25519 public key.
//
//   ecr1:x25519-sealedbox:<key id, 16 hex>:<standard base64 of crypto_box_seal output>
//
// Versioned and self-describing so consumers can tell what they hold and a
// future format can coexist. No whitespace and no "${" can occur in it, so
// Infisical's trimming and secret-reference checks leave it untouched.
#pragma once

#include <string>
#include <string_view>

#include "clients/result.h"
#include "crypto/secret.h"

namespace eca {

constexpr std::string_view kEnvelopePrefix = "ecr1:";

class Sealer {
 public:
  // public_key_b64: standard base64 of the 32-byte X25519 public key.
  static Result<Sealer> from_public_key(std::string_view public_key_b64);
  std::string seal(std::string_view plaintext) const;
  const std::string& key_id() const { return key_id_; }

 private:
  std::string pk_;
  std::string key_id_;
};

bool looks_like_envelope(std::string_view value);

// Opens an envelope with the private key (base64 of 32 bytes). Errors say whether the
// text is malformed, names another key, or fails authentication, never echoing the input.
Result<Secret> open_envelope(std::string_view envelope, const Secret& private_key_b64);

}  // namespace eca

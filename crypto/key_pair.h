// KeyPair: the X25519 recipient key pair for sealed envelopes.
//
// The agent only ever needs the public key (from the config); the private key
// belongs to the consumers of the secrets and to `eca-rotator open`.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"
#include "common/secret.h"

namespace eca {

struct KeyPair {
  std::string public_key_b64;  // 32 bytes, standard base64
  Secret private_key_b64;      // 32 bytes, standard base64
};

KeyPair generate_key_pair();

// 16 hex chars naming a public key (BLAKE2b of the key bytes); written into each envelope
// so a consumer holding several private keys knows which one opens it.
std::string key_id(const std::string& public_key_raw);

// Decodes standard base64 of exactly `expected_len` bytes.
Result<std::string> decode_key_b64(std::string_view b64, std::size_t expected_len,
                                   const char* what);

// Writes the private key (0600, refusing to overwrite) and PATH.pub (0644).
Status write_key_pair(const KeyPair& kp, const std::filesystem::path& private_path);

// Reads a private key file written by write_key_pair (base64, surrounding whitespace allowed).
// Refuses a file that is group- or world-accessible.
Result<Secret> read_private_key(const std::filesystem::path& path);

}  // namespace eca

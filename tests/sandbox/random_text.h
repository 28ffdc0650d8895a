// Random identifiers and credentials in the shapes the real services use.
// All randomness comes from libsodium (randombytes), so every run differs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace eca::sandbox {

std::string random_from_alphabet(std::string_view alphabet, std::size_t length);
std::string random_base62(std::size_t length);
std::string random_hex(std::size_t length);
std::string random_alnum(std::size_t length);  // same alphabet as base62
std::string random_uuid();                     // RFC 4122 version 4
std::string random_base64url(std::size_t bytes);

// An 18-character Salesforce id: 3-character key prefix ("0xI" app, "888" consumer,
// "0Ls" staged credential), 12 random characters, and the 3-character case checksum
// that turns the case-sensitive 15-character form into the 18-character one.
std::string salesforce_id(std::string_view prefix);

// The checksum suffix for a 15-character id (the real algorithm: one character per
// 5-character chunk, encoding which of its characters are upper case).
std::string salesforce_id_suffix(std::string_view id15);

}  // namespace eca::sandbox

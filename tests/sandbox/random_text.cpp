#include "tests/sandbox/random_text.h"

#include <sodium.h>

#include <cstdint>
#include <vector>

namespace eca::sandbox {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

}  // namespace

std::string random_from_alphabet(std::string_view alphabet, std::size_t length) {
  std::string out;
  out.reserve(length);
  for (std::size_t i = 0; i < length; ++i) {
    out.push_back(alphabet[randombytes_uniform(static_cast<std::uint32_t>(alphabet.size()))]);
  }
  return out;
}

std::string random_base62(std::size_t length) {
  return random_from_alphabet(kBase62, length);
}
std::string random_alnum(std::size_t length) {
  return random_from_alphabet(kBase62, length);
}
std::string random_hex(std::size_t length) {
  return random_from_alphabet("0123456789ABCDEF", length);
}

std::string random_uuid() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

std::string random_base64url(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string out(sodium_base64_encoded_len(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

std::string salesforce_id_suffix(std::string_view id15) {
  static constexpr char kMap[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  std::string suffix;
  for (std::size_t chunk = 0; chunk < 3; ++chunk) {
    int bits = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      const std::size_t at = chunk * 5 + i;
      const char c = at < id15.size() ? id15[at] : '0';
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix.push_back(kMap[bits]);
  }
  return suffix;
}

std::string salesforce_id(std::string_view prefix) {
  std::string id15(prefix);
  id15 += random_base62(15 - prefix.size());
  return id15 + salesforce_id_suffix(id15);
}

}  // namespace eca::sandbox

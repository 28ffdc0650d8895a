#include "crypto/fingerprint.h"

#include <sodium.h>

namespace eca {

std::string fingerprint(std::string_view consumer_key) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(consumer_key.data()),
                     consumer_key.size(), nullptr, 0);
  char hex[sizeof h * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string("b2:") + hex;
}

std::string short_fingerprint(std::string_view fp) {
  if (fp.substr(0, 3) == "b2:") fp.remove_prefix(3);
  return std::string(fp.substr(0, 12));
}

}  // namespace eca

#include "crypto/sigv4.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "common/clock.h"

namespace eca {
namespace {

std::string hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xf];
  }
  return out;
}

// HMAC-SHA256 of `data` under `key` into `out` (32 bytes).
void hmac(const unsigned char* key, std::size_t key_len, std::string_view data,
          unsigned char out[crypto_auth_hmacsha256_BYTES]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, key_len);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

// RFC 3986 unreserved characters stay, everything else is %XX (upper case), as SigV4
// wants for query names and values.
std::string uri_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Leading and trailing spaces removed, inner runs of spaces folded to one.
std::string trim_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Headers by lower-cased name, sorted; repeated names joined with ','.
std::vector<std::pair<std::string, std::string>> canonical_headers(const SigV4Request& r) {
  std::vector<std::pair<std::string, std::string>> h;
  for (const auto& [name, value] : r.headers) h.emplace_back(lower(name), trim_value(value));
  std::stable_sort(h.begin(), h.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& kv : h) {
    if (!merged.empty() && merged.back().first == kv.first) {
      merged.back().second += "," + kv.second;
    } else {
      merged.push_back(std::move(kv));
    }
  }
  return merged;
}

std::string signed_header_names(const SigV4Request& r) {
  std::string out;
  for (const auto& [name, value] : canonical_headers(r)) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string scope(const SigV4Request& r) {
  return r.amz_date.substr(0, 8) + "/" + r.region + "/" + r.service + "/aws4_request";
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return hex(digest, sizeof digest);
}

std::string amz_date(long long unix_seconds) {
  return format_time(TimePoint(std::chrono::seconds(unix_seconds)), "%Y%m%dT%H%M%SZ", Zone::Utc);
}

std::string sigv4_canonical_request(const SigV4Request& r) {
  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& [k, v] : r.query) q.emplace_back(uri_encode(k), uri_encode(v));
  std::sort(q.begin(), q.end());
  std::string query;
  for (const auto& [k, v] : q) {
    if (!query.empty()) query += '&';
    query += k + "=" + v;
  }
  std::string out = r.method + "\n" + r.path + "\n" + query + "\n";
  for (const auto& [name, value] : canonical_headers(r)) out += name + ":" + value + "\n";
  out += "\n" + signed_header_names(r) + "\n" + sha256_hex(r.body);
  return out;
}

std::string sigv4_string_to_sign(const SigV4Request& r) {
  return "AWS4-HMAC-SHA256\n" + r.amz_date + "\n" + scope(r) + "\n" +
         sha256_hex(sigv4_canonical_request(r));
}

std::string sigv4_signature(const SigV4Request& r, std::string_view secret_access_key) {
  Secret first("AWS4");
  first.append(secret_access_key);
  unsigned char k[crypto_auth_hmacsha256_BYTES];
  hmac(reinterpret_cast<const unsigned char*>(first.c_str()), first.size(), r.amz_date.substr(0, 8),
       k);
  for (const std::string& part : {r.region, r.service, std::string("aws4_request")}) {
    unsigned char next[crypto_auth_hmacsha256_BYTES];
    hmac(k, sizeof k, part, next);
    std::copy(std::begin(next), std::end(next), std::begin(k));
    sodium_memzero(next, sizeof next);
  }
  unsigned char sig[crypto_auth_hmacsha256_BYTES];
  hmac(k, sizeof k, sigv4_string_to_sign(r), sig);
  sodium_memzero(k, sizeof k);
  return hex(sig, sizeof sig);
}

std::string sigv4_authorization(const SigV4Request& r, std::string_view access_key_id,
                                std::string_view secret_access_key) {
  return "AWS4-HMAC-SHA256 Credential=" + std::string(access_key_id) + "/" + scope(r) +
         ", SignedHeaders=" + signed_header_names(r) +
         ", Signature=" + sigv4_signature(r, secret_access_key);
}

}  // namespace eca

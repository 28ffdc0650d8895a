#include "clients/scrub.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "common/secret.h"

namespace eca {
namespace {

constexpr std::string_view kRedacted = "[redacted]";
constexpr std::size_t kMinTokenRun = 24;
constexpr std::size_t kMinJwtRun = 16;

// Keys whose value is a secret, lower-cased: "client_secret", "clientSecret" and
// "CLIENT_SECRET" all match.
constexpr std::array<std::string_view, 18> kSecretKeys = {
    "access_token",   "accesstoken", "refresh_token", "refreshtoken", "id_token",
    "token",          "secret",      "client_secret", "clientsecret", "consumer_secret",
    "consumersecret", "secretvalue", "password",      "passwd",       "api_key",
    "apikey",         "private_key", "privatekey"};

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_secret_key(const std::string& word) {
  return std::find(kSecretKeys.begin(), kSecretKeys.end(), word) != kSecretKeys.end();
}

// Where an unquoted value ends.
bool ends_value(char c) {
  return c == ' ' || c == '"' || c == '\'' || c == '\\' || c == ',' || c == ';' || c == '&' ||
         c == '}' || c == ']' || c == ')' || c == '<' || c == '>';
}

// Values of secret-looking keys, and the credential after "Bearer".
std::string redact_keyed_values(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (!is_word(s[i])) {
      out += s[i++];
      continue;
    }
    std::size_t j = i;
    while (j < n && is_word(s[j])) ++j;
    const std::string word = lower(s.substr(i, j - i));
    out.append(s.substr(i, j - i));
    i = j;
    if (word == "bearer") {
      std::size_t k = j;
      while (k < n && s[k] == ' ') ++k;
      std::size_t e = k;
      while (e < n && !ends_value(s[e])) ++e;
      if (k > j && e > k) {
        out.append(s.substr(j, k - j));
        out += kRedacted;
        i = e;
      }
      continue;
    }
    if (!is_secret_key(word)) continue;
    std::size_t k = j;
    while (k < n && (s[k] == '"' || s[k] == '\'' || s[k] == '\\')) ++k;  // the key's closing quote
    while (k < n && s[k] == ' ') ++k;
    if (k >= n || (s[k] != ':' && s[k] != '=')) continue;
    ++k;
    while (k < n && s[k] == ' ') ++k;
    while (k < n && s[k] == '\\') ++k;
    char quote = 0;
    if (k < n && (s[k] == '"' || s[k] == '\'')) quote = s[k++];
    std::size_t e = k;
    if (quote != 0) {
      while (e < n && s[e] != quote && s[e] != '\\') ++e;
    } else {
      while (e < n && !ends_value(s[e])) ++e;
    }
    if (e == k) continue;  // an empty value hides nothing
    out.append(s.substr(j, k - j));
    out += kRedacted;
    i = e;
  }
  return out;
}

// Characters of base64 (standard and URL-safe), hex and dotted tokens. '=' only as
// padding, so that "client_id=3MVG..." is split at the '='.
bool in_token_run(std::string_view s, std::size_t i) {
  char c = s[i];
  if (is_alnum(c) || c == '+' || c == '/' || c == '_' || c == '-' || c == '.' || c == '~')
    return true;
  return c == '=' && (i + 1 == s.size() || !is_alnum(s[i + 1]));
}

bool looks_like_token(std::string_view run) {
  if (run.size() >= kMinJwtRun && run.substr(0, 3) == "eyJ") return true;
  if (run.size() < kMinTokenRun) return false;
  bool digit = false, upper = false, lower_case = false;
  for (char c : run) {
    auto u = static_cast<unsigned char>(c);
    digit |= std::isdigit(u) != 0;
    upper |= std::isupper(u) != 0;
    lower_case |= std::islower(u) != 0;
  }
  return digit || (upper && lower_case);
}

std::string redact_token_runs(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (!in_token_run(s, i)) {
      out += s[i++];
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && in_token_run(s, j)) ++j;
    std::string_view run = s.substr(i, j - i);
    if (looks_like_token(run))
      out += kRedacted;
    else
      out.append(run);
    i = j;
  }
  return out;
}

}  // namespace

std::string scrub_server_text(std::string_view text, std::size_t limit) {
  std::string flat(text);
  for (char& c : flat) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  std::string keyed = redact_keyed_values(flat);
  std::string out = redact_token_runs(keyed);
  wipe_string(flat);  // the unscrubbed copies may hold a secret the server echoed
  wipe_string(keyed);
  std::size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return {};
  out.erase(0, begin);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > limit) {
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
      --cut;  // UTF-8 boundary
    out.resize(cut);
    out += "...";
  }
  return out;
}

}  // namespace eca

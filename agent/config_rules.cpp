#include "agent/config_rules.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>

namespace eca::config_rules {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_alpha(char c) {
  return is_lower(c) || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& c : candidates) {
    // Only compare strings of plausible length (and keep the cost tiny).
    std::size_t diff = c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
    if (diff > 2) continue;
    std::size_t d = edit_distance(word, c);
    if (d < best_d && d < std::max<std::size_t>(c.size(), 1)) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

bool is_slug(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_lower(s[0]) && !is_digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
}

bool is_salesforce_id(std::string_view s) {
  return (s.size() == 15 || s.size() == 18) && std::all_of(s.begin(), s.end(), is_alnum);
}

bool is_secret_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

bool is_time_of_day(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return false;
  if (!is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[3]) || !is_digit(s[4])) return false;
  int hh = (s[0] - '0') * 10 + (s[1] - '0');
  int mm = (s[3] - '0') * 10 + (s[4] - '0');
  return hh <= 23 && mm <= 59;
}

std::string check_secret_path(std::string_view s) {
  if (s.empty() || s[0] != '/') return "must start with '/'";
  if (s == "/") return "";
  if (s.back() == '/') return "must not end with '/' (except the root path \"/\")";
  std::size_t pos = 1;
  while (pos <= s.size()) {
    std::size_t next = s.find('/', pos);
    if (next == std::string_view::npos) next = s.size();
    std::string_view seg = s.substr(pos, next - pos);
    if (seg.empty()) return "must not contain empty segments (\"//\")";
    if (seg == "..") return "must not contain \"..\"";
    if (seg == ".") return "must not contain \".\" segments";
    // Infisical's own rule for folder names and secret paths: a dot passes nowhere
    // (listing answers 400, a batch upsert 500), so it is refused here, before any
    // request is made.
    if (!std::all_of(seg.begin(), seg.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '-'; }))
      return "segments may only contain letters, digits, '_' and '-' (Infisical's folder "
             "name rule: no dots)";
    pos = next + 1;
  }
  return "";
}

std::string check_api_version(std::string_view s) {
  const std::string what = "must look like \"v65.0\" (v<major>.<digit>) and be at least v65.0";
  if (s.size() < 4 || s[0] != 'v') return what;
  std::size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot + 2 != s.size() || !is_digit(s[dot + 1]))
    return what;
  std::string_view major = s.substr(1, dot - 1);
  if (major.size() > 6 || !std::all_of(major.begin(), major.end(), is_digit)) return what;
  int m = std::stoi(std::string(major));
  if (m < 65) return "the OAuth credentials API needs API version v65.0 or later";
  return "";
}

std::string check_timezone(std::string_view s, const std::string& zoneinfo_dir) {
  if (s == "local" || s == "UTC") return "";
  if (s.empty()) return "must be \"local\", \"UTC\" or an IANA zone name such as \"Europe/Paris\"";
  bool ok = s[0] != '/' && std::all_of(s.begin(), s.end(), [](char c) {
              return is_alnum(c) || c == '/' || c == '_' || c == '-' || c == '+';
            });
  if (ok && (s.find("..") != std::string_view::npos || s.find("//") != std::string_view::npos))
    ok = false;
  if (ok) {
    std::string file = zoneinfo_dir + "/" + std::string(s);
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return "";
  }
  return "unknown timezone \"" + std::string(s) +
         "\": use \"local\", \"UTC\" or an IANA zone name found under " + zoneinfo_dir +
         " (e.g. \"Europe/Paris\")";
}

std::string check_public_key(std::string_view s) {
  std::array<unsigned char, 33> bin{};
  std::size_t bin_len = 0;
  const char* end = nullptr;
  if (s.empty() ||
      sodium_base642bin(bin.data(), bin.size(), s.data(), s.size(), nullptr, &bin_len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != s.data() + s.size() || bin_len != 32) {
    return "must be the base64 (standard, padded) encoding of a 32-byte X25519 public key, "
           "as printed by `eca-rotator keygen`";
  }
  return "";
}

std::string check_pinned_public_key(std::string_view s) {
  constexpr std::string_view kPrefix = "sha256//";
  const std::string format =
      "must be \"sha256//BASE64\" items separated by ';', BASE64 being the 44-character base64 "
      "SHA-256 of the server's public key (openssl x509 -in cert.pem -pubkey -noout | openssl pkey "
      "-pubin -outform der | openssl dgst -sha256 -binary | base64)";
  if (s.empty()) return format;
  std::size_t item = 0;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    ++item;
    std::size_t next = s.find(';', pos);
    if (next == std::string_view::npos) next = s.size();
    std::string_view pin = s.substr(pos, next - pos);
    std::string which = "; item " + std::to_string(item) + " is not";
    if (pin.substr(0, kPrefix.size()) != kPrefix)
      return format + which + " (it must start with \"sha256//\")";
    std::string_view b64 = pin.substr(kPrefix.size());
    std::array<unsigned char, 33> bin{};
    std::size_t bin_len = 0;
    const char* end = nullptr;
    if (b64.size() != 44 ||
        sodium_base642bin(bin.data(), bin.size(), b64.data(), b64.size(), nullptr, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64.data() + b64.size() || bin_len != 32) {
      return format + which + " (got " + std::to_string(b64.size()) +
             " characters after \"sha256//\")";
    }
    pos = next + 1;
  }
  return "";
}

std::string check_proxy_url(std::string_view s) {
  const std::string example = " (e.g. \"http://proxy.example.com:3128\")";
  auto sep = s.find("://");
  if (sep == std::string_view::npos) return "must be a URL with a scheme" + example;
  std::string scheme;
  for (char c : s.substr(0, sep)) scheme.push_back(to_lower(c));
  static const std::array<std::string_view, 6> schemes = {"http",    "https",  "socks4",
                                                          "socks4a", "socks5", "socks5h"};
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end())
    return "scheme must be http, https, socks4, socks4a, socks5 or socks5h" + example;
  std::string_view rest = s.substr(sep + 3);
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && rest.substr(slash) != "/")
    return "must not have a path" + example;
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 address" + example;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return "has junk after the IPv6 address" + example;
    if (!after.empty()) port = after.substr(1);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return "has no host" + example;
  if (std::any_of(host.begin(), host.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f || c == '/' || c == '\\';
      }))
    return "has an invalid host" + example;
  if (!port.empty() || authority.back() == ':') {
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit) ||
        std::stol(std::string(port)) == 0 || std::stol(std::string(port)) > 65535)
      return "has an invalid port (1-65535)" + example;
  }
  return "";
}

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string h;
  for (char c : host) h.push_back(to_lower(c));
  if (h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1") return true;
  // Dotted quad 127.x.y.z
  int parts = 0;
  std::size_t pos = 0;
  int first = -1;
  while (pos <= h.size()) {
    std::size_t next = h.find('.', pos);
    if (next == std::string::npos) next = h.size();
    std::string_view part = std::string_view(h).substr(pos, next - pos);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit))
      return false;
    int v = std::stoi(std::string(part));
    if (v > 255) return false;
    if (parts == 0) first = v;
    ++parts;
    pos = next + 1;
  }
  return parts == 4 && first == 127;
}

std::string Url::origin() const {
  std::string o = scheme + "://";
  if (host.find(':') != std::string::npos)
    o += "[" + host + "]";
  else
    o += host;
  if (!port.empty()) o += ":" + port;
  return o;
}

std::optional<Url> parse_url(std::string_view s, std::string& why) {
  Url u;
  std::size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    why = "must be an absolute URL such as https://host";
    return std::nullopt;
  }
  for (char c : s.substr(0, sep)) u.scheme.push_back(to_lower(c));
  if (u.scheme != "http" && u.scheme != "https") {
    why = "scheme must be https (got \"" + u.scheme + "\")";
    return std::nullopt;
  }
  std::string_view rest = s.substr(sep + 3);
  std::size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail =
      auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    why = "must not contain a user name or password";
    return std::nullopt;
  }
  std::string_view host, port;
  if (!authority.empty() && authority[0] == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "invalid IPv6 host (missing ']')";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        why = "invalid host";
        return std::nullopt;
      }
      port = after.substr(1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return is_digit(c) || (to_lower(c) >= 'a' && to_lower(c) <= 'f') || c == ':' || c == '.';
        })) {
      why = "invalid IPv6 host";
      return std::nullopt;
    }
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (host.empty() ||
        !std::all_of(host.begin(), host.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '.'; }) ||
        host.front() == '.' || host.front() == '-' || host.find("..") != std::string_view::npos) {
      why = host.empty() ? "has no host" : "has an invalid host name";
      return std::nullopt;
    }
  }
  if (port.data() != nullptr &&
      (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit) ||
       std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)) {
    why = "has an invalid port";
    return std::nullopt;
  }
  for (char c : host) u.host.push_back(to_lower(c));
  if (u.host.back() == '.') u.host.pop_back();  // fully qualified "host." form
  u.port = std::string(port);
  std::size_t q = tail.find_first_of("?#");
  u.path = std::string(tail.substr(0, q));
  if (q != std::string_view::npos) u.query = std::string(tail.substr(q));
  return u;
}

std::string check_my_domain_url(std::string_view s, std::string& normalized, std::string& warning) {
  const std::string advice =
      "use the org's My Domain URL, https://<MyDomain>.my.salesforce.com (Setup > My Domain)";
  std::string why;
  auto u = parse_url(s, why);
  if (!u) return why + "; " + advice;
  if (u->host == "login.salesforce.com" || u->host == "test.salesforce.com") {
    return u->host + " does not serve the client credentials flow; " + advice;
  }
  static constexpr std::string_view lightning = ".lightning.force.com";
  if (ends_with(u->host, lightning) && u->host.size() > lightning.size()) {
    std::string prefix = u->host.substr(0, u->host.size() - lightning.size());
    return "a Lightning Experience host (*.lightning.force.com) answers with a redirect; " +
           advice + ": here probably https://" + prefix + ".my.salesforce.com";
  }
  bool loopback = is_loopback_host(u->host);
  if (u->scheme != "https" && !loopback)
    return "must use https (http is allowed only to a loopback host)";
  if (!u->query.empty()) return "must not contain a query or fragment; " + advice;
  if (!u->path.empty() && u->path != "/")
    return "must not contain a path (\"" + u->path + "\"); " + advice;
  normalized = u->origin();
  warning.clear();
  if (!loopback && !ends_with(u->host, ".my.salesforce.com")) {
    warning = "host " + u->host +
              " is not a *.my.salesforce.com My Domain host; fine for Government cloud or custom "
              "domains, "
              "otherwise " +
              advice;
  }
  return "";
}

std::string check_infisical_url(std::string_view s, std::string& normalized) {
  std::string why;
  auto u = parse_url(s, why);
  if (!u) return why;
  if (u->scheme != "https" && !is_loopback_host(u->host))
    return "must use https (http is allowed only to a loopback host: 127.0.0.0/8, localhost, ::1)";
  if (!u->query.empty()) return "must not contain a query or fragment";
  std::string path = u->path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  normalized = u->origin() + path;
  return "";
}

}  // namespace eca::config_rules

// Pure validation rules used by the configuration loader (agent/config.cpp).
// Each check returns an empty string when the value is acceptable, otherwise a
// message meant to follow "file:line: key: ". None of them ever echo secrets
// (they are only applied to non-secret values).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eca::config_rules {

// Levenshtein distance (small strings only: keys and enum values).
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` if within distance 2 (ties: first listed), else "".
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);

// [a-z0-9][a-z0-9-]{0,62}
bool is_slug(std::string_view s);
// 15 or 18 ASCII letters/digits (Salesforce id).
bool is_salesforce_id(std::string_view s);
// [A-Za-z0-9_.-]+
bool is_secret_name(std::string_view s);
// "HH:MM", 24 h.
bool is_time_of_day(std::string_view s);
// Infisical folder path: "/" or "/seg[/seg...]", seg = [A-Za-z0-9_-]+ (Infisical's rule).
std::string check_secret_path(std::string_view s);
// "vNN.N" with NN.N >= 65.0
std::string check_api_version(std::string_view s);
// Timezone: "local", "UTC" or a zone file existing under zoneinfo_dir.
std::string check_timezone(std::string_view s, const std::string& zoneinfo_dir);
// Base64 (standard alphabet, padded) of exactly 32 bytes.
std::string check_public_key(std::string_view s);

// CURLOPT_PINNEDPUBLICKEY hashes: "sha256//BASE64" items separated by ';', each
// BASE64 the 44-character padded encoding of a 32-byte SHA-256.
std::string check_pinned_public_key(std::string_view s);
// A proxy URL: http, https, socks4, socks4a, socks5 or socks5h, a host, an optional
// port, optional "user:password@". The message never repeats the value (it may hold
// a password).
std::string check_proxy_url(std::string_view s);

// 127.0.0.0/8 (dotted quad), "localhost" or "::1" (with or without brackets).
bool is_loopback_host(std::string_view host);

struct Url {
  std::string scheme;          // lowercase
  std::string host;            // lowercase; IPv6 without brackets
  std::string port;            // digits or empty
  std::string path;            // from the first '/' up to '?'/'#', may be empty
  std::string query;           // from '?' or '#' to the end (with the sign), may be empty
  std::string origin() const;  // scheme://host[:port] (IPv6 in brackets)
};
// Syntactic parse of an absolute http(s) URL. Rejects userinfo and bad ports.
std::optional<Url> parse_url(std::string_view s, std::string& why);

// Validates a connection's my_domain_url. On success returns "" and sets
// `normalized` (scheme://host[:port], no trailing slash); `warning` is set for a
// host that is not *.my.salesforce.com (Government cloud, custom domains).
std::string check_my_domain_url(std::string_view s, std::string& normalized, std::string& warning);
// Validates the Infisical site address (https, or http to a loopback host; a
// path is allowed, trailing slashes are stripped). Sets `normalized`.
std::string check_infisical_url(std::string_view s, std::string& normalized);

}  // namespace eca::config_rules

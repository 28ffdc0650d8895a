// Scrubbing of text taken from a server's answer before it goes into an Error
// message (and so into logs, hooks and status output).
//
// A server may echo what it was sent (a client secret in a validation error) or
// put tokens in its error text. The scrubbed text keeps the human-readable part
// and replaces with "[redacted]":
//  - the value after a secret-looking key (access_token, token, secret, client_secret,
//    consumerSecret, password, ...) followed by ':' or '=', quoted or not;
//  - the word after "Bearer";
//  - JWTs ("eyJ..." runs);
//  - runs of at least 24 base64/hex/URL-safe characters that contain a digit or both
//    upper- and lower-case letters (words, UPPER_SNAKE error codes and host names
//    stay; 15/18-character Salesforce ids and short request ids stay).
// Control characters become spaces (no forged log lines); the result is cut to
// `limit` bytes on a UTF-8 boundary, with "..." when cut. Redaction happens before
// the cut, so a cut can never leave a token's prefix behind.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace eca {

inline constexpr std::size_t kServerTextLimit = 300;

std::string scrub_server_text(std::string_view text, std::size_t limit = kServerTextLimit);

}  // namespace eca

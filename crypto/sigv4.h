// SigV4: AWS Signature Version 4 over one HTTP request, with libsodium's SHA-256 and
// HMAC-SHA256 (the agent links nothing else that has them).
//
// Used to prove the VM's AWS identity to Infisical: the agent signs an
// sts:GetCallerIdentity request it never sends; Infisical forwards it to STS, which
// checks the signature. A wrong byte anywhere gives a refused login, so the canonical
// request follows AWS's published test suite exactly (tests/crypto/sigv4_test.cpp).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"

namespace eca {

struct AwsCredentials {
  std::string access_key_id;
  Secret secret_access_key;
  Secret session_token;  // set for temporary credentials (instance role, assumed role)
};

struct SigV4Request {
  std::string method = "POST";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> query;    // decoded name, value
  std::vector<std::pair<std::string, std::string>> headers;  // all of them are signed
  std::string body;
  std::string region;
  std::string service;
  std::string amz_date;  // "20150830T123600Z"; the X-Amz-Date header must carry the same
};

// The steps, exposed so that tests (and the fake Infisical) can compare each one.
std::string sigv4_canonical_request(const SigV4Request& request);
std::string sigv4_string_to_sign(const SigV4Request& request);
// Hex signature with the key chain AWS4<secret> / date / region / service / aws4_request.
std::string sigv4_signature(const SigV4Request& request, std::string_view secret_access_key);
// The Authorization header's value.
std::string sigv4_authorization(const SigV4Request& request, std::string_view access_key_id,
                                std::string_view secret_access_key);

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// "20150830T123600Z" for a Unix time.
std::string amz_date(long long unix_seconds);

}  // namespace eca

// The JWT of Salesforce's OAuth 2.0 JWT bearer flow (spec/identity.md §1): building and
// signing the assertion, the default audience, and what each refusal asks the operator
// to fix. The HTTP exchange itself stays in SalesforceClient.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"
#include "crypto/rsa_signer.h"

namespace eca {

inline constexpr std::string_view kJwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
// How far ahead `exp` is set: Salesforce wants it "within 3 minutes" of its own clock.
inline constexpr std::int64_t kJwtLifetimeSeconds = 150;

struct JwtClaims {
  std::string iss;       // the connection ECA's consumer key
  std::string sub;       // the Salesforce username the agent acts as
  std::string aud;       // https://login.salesforce.com, https://test.salesforce.com or My Domain
  std::int64_t exp = 0;  // seconds since the epoch
};

// https://test.salesforce.com for a sandbox My Domain (*.sandbox.my.salesforce.com),
// else https://login.salesforce.com.
std::string default_jwt_audience(std::string_view my_domain_url);

// header.claims.signature, each base64url without padding; header {"alg":"RS256"} only.
// A Secret: whoever holds it can log in until `exp`.
Result<Secret> make_jwt_assertion(const RsaSigner& signer, const JwtClaims& claims);

// An assertion taken apart (the fake org and the fuzzer use this; the agent never reads one).
struct DecodedJwt {
  std::string alg;                // from the header
  bool header_has_extra = false;  // a header member other than "alg" (or "typ")
  JwtClaims claims;
  bool has_exp = false;
  std::string signing_input;  // "header.claims", what the signature covers
  std::string signature;      // raw bytes
};
std::optional<DecodedJwt> decode_jwt(std::string_view assertion);

// What the operator should do about a refused JWT login, from the OAuth error and its
// description (spec/identity.md §1 table); empty when the refusal is not one we know.
std::string jwt_refusal_hint(std::string_view error, std::string_view description,
                             const std::string& connection, const std::string& username);
bool is_audience_refusal(std::string_view error, std::string_view description);

}  // namespace eca

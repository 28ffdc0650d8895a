// Fuzzes what the JWT bearer login decodes (clients/salesforce_jwt.h, crypto/rsa_signer.h):
// the private key file an operator supplies, the JWT decoder the fake org (and any tool
// reading an assertion) relies on, and the refusal text of the token endpoint.
//
// Input: byte 0 % 3 picks the part. 0: the rest is an assertion for decode_jwt; a
// decoded one re-encodes to the same signing input. 1: the rest is a PEM key file for
// RsaSigner::from_pem; a refusal never quotes the input. 2: "error\0description" for
// jwt_refusal_hint.
#include <cstdint>
#include <string>

#include "clients/salesforce_jwt.h"
#include "crypto/rsa_signer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in = eca::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto jwt = eca::decode_jwt(in);
      if (!jwt) break;
      ECA_FUZZ_CHECK(in.substr(0, jwt->signing_input.size()) == jwt->signing_input);
      ECA_FUZZ_CHECK(in.size() > jwt->signing_input.size() && in[jwt->signing_input.size()] == '.');
      break;
    }
    case 1: {
      auto signer = eca::RsaSigner::from_pem(eca::Secret(in), "private_key_file");
      if (signer) {
        ECA_FUZZ_CHECK(signer->bits() >= eca::RsaSigner::kMinBits);
        ECA_FUZZ_CHECK(signer->sign_rs256("x").ok());
      } else {
        const std::string& msg = signer.error().message;
        ECA_FUZZ_CHECK(msg.rfind("private_key_file ", 0) == 0);
        // Only fixed text: a base64 line of the input (key material) never shows up.
        const auto first = in.find("-----BEGIN") == 0 ? in.find('\n') : std::string_view::npos;
        const std::string_view body = first == std::string_view::npos ? in : in.substr(first + 1);
        const std::string_view run = body.substr(
            0, body.find_first_not_of(
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="));
        if (run.size() >= 16) ECA_FUZZ_CHECK(msg.find(run) == std::string::npos);
      }
      break;
    }
    default: {
      const auto nul = in.find('\0');
      const std::string_view error = in.substr(0, nul);
      const std::string_view desc = nul == std::string_view::npos ? "" : in.substr(nul + 1);
      const std::string hint = eca::jwt_refusal_hint(error, desc, "acme", "u@example.com");
      if (eca::is_audience_refusal(error, desc)) ECA_FUZZ_CHECK(!hint.empty());
      break;
    }
  }
  return 0;
}

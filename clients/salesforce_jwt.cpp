#include "clients/salesforce_jwt.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "common/json.h"

namespace eca {
namespace {

constexpr int kB64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

void append_b64url(std::string& out, std::string_view bin) {
  std::string enc(sodium_base64_ENCODED_LEN(bin.size(), kB64), '\0');
  sodium_bin2base64(enc.data(), enc.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), kB64);
  out.append(enc.c_str());
}

std::optional<std::string> b64url_decode(std::string_view in) {
  std::string out(in.size(), '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, &end, kB64) != 0 ||
      end != in.data() + in.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string claims_json(const JwtClaims& c) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("iss");
  w.String(c.iss.c_str(), static_cast<rapidjson::SizeType>(c.iss.size()));
  w.Key("sub");
  w.String(c.sub.c_str(), static_cast<rapidjson::SizeType>(c.sub.size()));
  w.Key("aud");
  w.String(c.aud.c_str(), static_cast<rapidjson::SizeType>(c.aud.size()));
  w.Key("exp");
  w.Int64(c.exp);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return out;
}

// Parses one base64url JSON object of a JWT into `doc` (buffer kept alive by the caller).
bool decode_part(std::string_view part, Secret& buffer, rapidjson::Document& doc) {
  auto json_text = b64url_decode(part);
  if (!json_text) return false;
  buffer = Secret(*json_text);
  return json::parse_in_place(buffer, doc, "JWT part").ok() && doc.IsObject();
}

}  // namespace

std::string default_jwt_audience(std::string_view my_domain_url) {
  const std::string url = lower(my_domain_url);
  const std::size_t host_start = url.find("://") == std::string::npos ? 0 : url.find("://") + 3;
  const std::string host = url.substr(host_start, url.find_first_of(":/", host_start) - host_start);
  const std::string_view sandbox = ".sandbox.my.salesforce.com";
  if (host.size() > sandbox.size() &&
      host.compare(host.size() - sandbox.size(), sandbox.size(), sandbox) == 0) {
    return "https://test.salesforce.com";
  }
  return "https://login.salesforce.com";
}

Result<Secret> make_jwt_assertion(const RsaSigner& signer, const JwtClaims& claims) {
  std::string input;
  append_b64url(input, R"({"alg":"RS256"})");
  input.push_back('.');
  append_b64url(input, claims_json(claims));
  auto sig = signer.sign_rs256(input);
  if (!sig) return sig.error();
  Secret out(input);
  std::string tail = ".";
  append_b64url(tail, *sig);
  out.append(tail);
  return out;
}

std::optional<DecodedJwt> decode_jwt(std::string_view assertion) {
  const std::size_t dot1 = assertion.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const std::size_t dot2 = assertion.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || assertion.find('.', dot2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  DecodedJwt out;
  Secret header_buf, claims_buf;
  rapidjson::Document header, claims;
  if (!decode_part(assertion.substr(0, dot1), header_buf, header) ||
      !decode_part(assertion.substr(dot1 + 1, dot2 - dot1 - 1), claims_buf, claims)) {
    return std::nullopt;
  }
  auto sig = b64url_decode(assertion.substr(dot2 + 1));
  if (!sig) return std::nullopt;
  out.signature = std::move(*sig);
  out.signing_input = std::string(assertion.substr(0, dot2));
  if (auto a = json::str(header, "alg")) out.alg = std::string(*a);
  for (const auto& m : header.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name != "alg" && name != "typ") out.header_has_extra = true;
  }
  if (auto v = json::str(claims, "iss")) out.claims.iss = std::string(*v);
  if (auto v = json::str(claims, "sub")) out.claims.sub = std::string(*v);
  if (auto v = json::str(claims, "aud")) out.claims.aud = std::string(*v);
  if (auto v = json::integer(claims, "exp")) {
    out.claims.exp = *v;
    out.has_exp = true;
  }
  return out;
}

bool is_audience_refusal(std::string_view error, std::string_view description) {
  return error == "invalid_grant" && lower(description).find("audience") != std::string::npos;
}

std::string jwt_refusal_hint(std::string_view error, std::string_view description,
                             const std::string& connection, const std::string& username) {
  const std::string d = lower(description);
  const std::string section = "[connections." + connection + "]";
  auto has = [&d](std::string_view s) { return d.find(s) != std::string::npos; };
  if (error == "invalid_grant" && has("hasn't approved")) {
    return "user " + username +
           " is not pre-authorized for the connection's External Client "
           "App: set its policy to \"Admin approved users are pre-authorized\" and add the "
           "user's profile or a permission set holding the user to the app";
  }
  if (error == "invalid_grant" && has("invalid assertion")) {
    return "the certificate on the connection's External Client App does not match " + section +
           " private_key_file: upload the certificate of that key (OAuth settings, \"Enable "
           "JWT Bearer Flow\")";
  }
  if (is_audience_refusal(error, description)) {
    return "set " + section +
           " audience to what the org accepts "
           "(https://login.salesforce.com, https://test.salesforce.com or the My Domain URL)";
  }
  if (error == "invalid_grant" && has("expired")) {
    return "the assertion had already expired by Salesforce's clock: check this machine's "
           "clock (timedatectl; it must be synchronized, e.g. by chrony or systemd-timesyncd)";
  }
  if (error == "invalid_grant" && has("inactive user")) {
    return "user " + username + " is inactive: reactivate it or set " + section +
           " username to an active user";
  }
  if (error == "invalid_grant" && has("authentication failure")) {
    return "check " + section + " username and that the user may log in to this org";
  }
  if (error == "invalid_client_id" || has("client identifier invalid")) {
    return section + " client_id is not the consumer key of an External Client App in this org";
  }
  if (error == "unsupported_grant_type") {
    return "the org refused the JWT bearer grant: check that my_domain_url is the org's My "
           "Domain and that the External Client App has \"Enable JWT Bearer Flow\" on";
  }
  return {};
}

}  // namespace eca

#include "tests/sandbox/fake_cloud.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>

#include "crypto/sigv4.h"
#include "tests/sandbox/json_builder.h"
#include "tests/sandbox/random_text.h"

namespace eca::sandbox {
namespace {

using Clock = std::chrono::system_clock;

long long unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string b64(std::string_view bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::string> unb64(std::string_view text, int variant) {
  std::string out(text.size() + 1, '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr, variant) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string hs256(const std::string& key, std::string_view data) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return b64(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac),
             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::string claims(const std::string& iss, const std::string& sub, const std::string& aud,
                   Clock::time_point exp, Clock::time_point iat) {
  JsonBuilder j;
  j.begin_object()
      .field_string("iss", iss)
      .field_string("sub", sub)
      .field_string("aud", aud)
      .field_int("iat", unix_seconds(iat))
      .field_int("exp", unix_seconds(exp))
      .end_object();
  return j.str();
}

// Empty when `jwt` is signed with `key`, unexpired, from `iss` and for `aud`.
std::string check_jwt(const std::string& key, const std::string& jwt, const std::string& iss,
                      const std::string& aud, Clock::time_point now) {
  const auto dot2 = jwt.rfind('.');
  if (std::count(jwt.begin(), jwt.end(), '.') != 2) return "jwt malformed";
  if (hs256(key, std::string_view(jwt).substr(0, dot2)) != jwt.substr(dot2 + 1)) {
    return "invalid signature";
  }
  const auto dot1 = jwt.find('.');
  auto payload =
      unb64(jwt.substr(dot1 + 1, dot2 - dot1 - 1), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  rapidjson::Document doc;
  if (!payload || doc.Parse(payload->c_str()).HasParseError() || !doc.IsObject()) {
    return "jwt malformed";
  }
  auto s = [&](const char* n) {
    return doc.HasMember(n) && doc[n].IsString() ? std::string(doc[n].GetString()) : std::string();
  };
  if (!doc.HasMember("exp") || !doc["exp"].IsInt64() ||
      doc["exp"].GetInt64() <= unix_seconds(now)) {
    return "jwt expired";
  }
  if (s("iss") != iss) return "jwt issuer invalid. expected: " + iss;
  if (s("aud") != aud) return "jwt audience invalid. expected: " + aud;
  return {};
}

std::string str_member(const rapidjson::Value& body, const char* name) {
  return body.IsObject() && body.HasMember(name) && body[name].IsString() ? body[name].GetString()
                                                                          : std::string();
}

}  // namespace

std::shared_ptr<FakeCloudKeys> FakeCloudKeys::random() {
  auto k = std::make_shared<FakeCloudKeys>();
  k->aws_access_key_id = "ASIA" + random_from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
  k->aws_secret_access_key = random_base62(40);
  k->aws_session_token = random_base62(120);
  k->aws_static_key_id = "AKIA" + random_from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
  k->aws_static_secret = random_base62(40);
  k->azure_tenant = random_uuid();
  k->azure_principal = random_uuid();
  k->gcp_key = random_base62(32);
  k->azure_key = random_base62(32);
  k->kubernetes_key = random_base62(32);
  k->oidc_key = random_base62(32);
  return k;
}

std::string mint_hs256(const std::string& key, const std::string& claims_json) {
  const std::string signing_input =
      b64(R"({"alg":"HS256","typ":"JWT"})", sodium_base64_VARIANT_URLSAFE_NO_PADDING) + "." +
      b64(claims_json, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return signing_input + "." + hs256(key, signing_input);
}

std::string kubernetes_token(const FakeCloudKeys& keys, Clock::time_point expires) {
  return mint_hs256(keys.kubernetes_key, claims(keys.kubernetes_issuer, keys.kubernetes_subject,
                                                "https://kubernetes.default.svc.cluster.local",
                                                expires, expires - std::chrono::hours(1)));
}

std::string oidc_token(const FakeCloudKeys& keys, Clock::time_point expires) {
  return mint_hs256(keys.oidc_key, claims(keys.oidc_issuer, keys.oidc_subject, keys.oidc_audience,
                                          expires, expires - std::chrono::minutes(5)));
}

// ---- SigV4, as STS checks it ---------------------------------------------------------

namespace {

std::string field_of(const std::string& auth, const std::string& name) {
  auto pos = auth.find(name + "=");
  if (pos == std::string::npos) return {};
  pos += name.size() + 1;
  return auth.substr(pos, auth.find(',', pos) - pos);
}

std::string verify_aws(const FakeCloudKeys& keys, const rapidjson::Value& body,
                       Clock::time_point now) {
  if (str_member(body, "iamHttpRequestMethod") != "POST")
    return "iamHttpRequestMethod must be POST";
  auto sts_body = unb64(str_member(body, "iamRequestBody"), sodium_base64_VARIANT_ORIGINAL);
  auto header_json = unb64(str_member(body, "iamRequestHeaders"), sodium_base64_VARIANT_ORIGINAL);
  rapidjson::Document h;
  if (!sts_body || !header_json || h.Parse(header_json->c_str()).HasParseError() || !h.IsObject()) {
    return "iamRequestBody and iamRequestHeaders must be base64";
  }
  if (*sts_body != "Action=GetCallerIdentity&Version=2011-06-15")
    return "not a GetCallerIdentity request";
  std::map<std::string, std::string> headers;  // lower-case name -> value
  for (const auto& m : h.GetObject()) {
    if (!m.value.IsString()) return "header values must be strings";
    std::string name = m.name.GetString();
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers[name] = m.value.GetString();
  }
  const std::string auth = headers["authorization"];
  const std::string credential = field_of(auth, "Credential");
  std::vector<std::string> scope;
  std::stringstream ss(credential);
  for (std::string part; std::getline(ss, part, '/');) scope.push_back(part);
  // STS's own wording for the refusals the agent can cause.
  if (scope.size() != 5) return "IncompleteSignature: Authorization header requires a Credential";
  std::string secret;
  if (scope[0] == keys.aws_access_key_id) secret = keys.aws_secret_access_key;
  if (scope[0] == keys.aws_static_key_id) secret = keys.aws_static_secret;
  if (secret.empty())
    return "InvalidClientTokenId: The security token included in the request is invalid.";
  if (scope[2] != keys.aws_region ||
      headers["host"] != "sts." + keys.aws_region + ".amazonaws.com") {
    return "SignatureDoesNotMatch: Credential should be scoped to a valid region, not '" +
           scope[2] + "'";
  }
  const std::string date = headers["x-amz-date"];
  std::tm tm{};
  if (date.size() != 16 || strptime(date.c_str(), "%Y%m%dT%H%M%SZ", &tm) == nullptr) {
    return "IncompleteSignature: X-Amz-Date is missing or malformed";
  }
  const long long skew = static_cast<long long>(timegm(&tm)) - unix_seconds(now);
  if (skew > 900 || skew < -900)
    return "SignatureDoesNotMatch: Signature expired: " + date +
           " is now earlier or later than 15 minutes from now";
  if (scope[0] == keys.aws_access_key_id &&
      headers["x-amz-security-token"] != keys.aws_session_token) {
    return "InvalidClientTokenId: The security token included in the request is invalid.";
  }
  SigV4Request r;
  r.body = *sts_body;
  r.region = scope[2];
  r.service = scope[3];
  r.amz_date = date;
  std::stringstream signed_names(field_of(auth, "SignedHeaders"));
  for (std::string name; std::getline(signed_names, name, ';');) {
    if (!headers.count(name)) return "SignatureDoesNotMatch: signed header " + name + " is missing";
    r.headers.emplace_back(name, headers[name]);
  }
  for (const char* must : {"host", "x-amz-date", "content-type"}) {
    if (std::none_of(r.headers.begin(), r.headers.end(),
                     [&](auto& kv) { return kv.first == must; })) {
      return std::string("SignatureDoesNotMatch: header ") + must + " is not signed";
    }
  }
  if (sigv4_signature(r, secret) != field_of(auth, "Signature")) {
    return "SignatureDoesNotMatch: The request signature we calculated does not match the "
           "signature you provided.";
  }
  return {};
}

}  // namespace

std::string verify_cloud_login(const FakeCloudKeys& keys, const std::string& method,
                               const rapidjson::Value& body, const std::string& identity_id,
                               Clock::time_point now) {
  if (method == "aws-auth") return verify_aws(keys, body, now);
  const std::string jwt = str_member(body, "jwt");
  if (jwt.empty()) return "jwt is required";
  if (method == "gcp-auth") {
    return check_jwt(keys.gcp_key, jwt, "https://accounts.google.com", identity_id, now);
  }
  if (method == "azure-auth") {
    return check_jwt(keys.azure_key, jwt, "https://sts.windows.net/" + keys.azure_tenant + "/",
                     "https://management.azure.com/", now);
  }
  if (method == "kubernetes-auth") {
    return check_jwt(keys.kubernetes_key, jwt, keys.kubernetes_issuer,
                     "https://kubernetes.default.svc.cluster.local", now);
  }
  if (method == "oidc-auth" || method == "jwt-auth") {
    return check_jwt(keys.oidc_key, jwt, keys.oidc_issuer, keys.oidc_audience, now);
  }
  return "unknown auth method";
}

// ---- the metadata server -------------------------------------------------------------

FakeMetadata::FakeMetadata(std::shared_ptr<const FakeCloudKeys> keys, FakeMetadataOptions options,
                           std::shared_ptr<FakeClock> clock)
    : FakeServer(options.server, std::move(clock), nullptr, "application/json"),
      keys_(std::move(keys)),
      refuse_imds_token_(options.refuse_imds_token) {}

FakeMetadata::~FakeMetadata() {
  stop();
}

void FakeMetadata::set_refuse_imds_token(bool refuse) {
  refuse_imds_token_ = refuse;
}

std::string FakeMetadata::classify(const HttpRequest& request) const {
  const std::string& p = request.path;
  const std::string creds = "/latest/meta-data/iam/security-credentials/";
  if (p == "/latest/api/token") return "meta.aws_token";
  if (p == creds) return "meta.aws_role";
  if (p.rfind(creds, 0) == 0) return "meta.aws_creds";
  if (p == "/latest/dynamic/instance-identity/document") return "meta.aws_region";
  if (p == "/computeMetadata/v1/instance/service-accounts/default/identity")
    return "meta.gcp_token";
  if (p == "/metadata/identity/oauth2/token") return "meta.azure_token";
  return "meta.other";
}

void FakeMetadata::handle(const HttpRequest& request, HttpResponse& response) {
  const std::string endpoint = classify(request);
  const auto now = clock().now();
  const FakeCloudKeys& k = *keys_;
  auto text = [&](int status, std::string body) {
    response.status = status;
    response.content_type = "text/plain";
    response.body = std::move(body);
  };
  if (endpoint == "meta.aws_token") {
    if (request.method != "PUT") return text(405, "");
    if (refuse_imds_token_) return text(403, "");
    if (request.header("X-aws-ec2-metadata-token-ttl-seconds").empty()) return text(400, "");
    std::lock_guard lock(tokens_mu_);
    imds_tokens_.push_back(random_base64url(40));
    return text(200, imds_tokens_.back());
  }
  if (endpoint.rfind("meta.aws_", 0) == 0) {
    {
      std::lock_guard lock(tokens_mu_);
      const std::string t = request.header("X-aws-ec2-metadata-token");
      if (std::find(imds_tokens_.begin(), imds_tokens_.end(), t) == imds_tokens_.end()) {
        return text(401, "");
      }
    }
    if (endpoint == "meta.aws_role") return text(200, k.aws_role);
    if (endpoint == "meta.aws_region") {
      JsonBuilder j;
      j.begin_object()
          .field_string("region", k.aws_region)
          .field_string("instanceId", "i-0fake")
          .end_object();
      return response.set_json(200, j.str());
    }
    if (request.path.substr(request.path.rfind('/') + 1) != k.aws_role) return text(404, "");
    JsonBuilder j;
    j.begin_object()
        .field_string("Code", "Success")
        .field_string("Type", "AWS-HMAC")
        .field_string("AccessKeyId", k.aws_access_key_id)
        .field_string("SecretAccessKey", k.aws_secret_access_key)
        .field_string("Token", k.aws_session_token)
        .end_object();
    return response.set_json(200, j.str());
  }
  if (endpoint == "meta.gcp_token") {
    if (request.header("Metadata-Flavor") != "Google")
      return text(403, "Missing Metadata-Flavor:Google header.");
    response.headers.emplace_back("Metadata-Flavor", "Google");
    const auto aud = request.param("audience");
    if (!aud || aud->empty()) return text(400, "non-empty audience parameter required");
    return text(200,
                mint_hs256(k.gcp_key, claims("https://accounts.google.com", k.gcp_service_account,
                                             *aud, now + std::chrono::hours(1), now)));
  }
  if (endpoint == "meta.azure_token") {
    if (request.header("Metadata") != "true") {
      return response.set_json(
          400,
          R"({"error":"invalid_request","error_description":"Required metadata header not specified"})");
    }
    const auto resource = request.param("resource").value_or("");
    JsonBuilder j;
    j.begin_object()
        .field_string(
            "access_token",
            mint_hs256(k.azure_key,
                       claims("https://sts.windows.net/" + k.azure_tenant + "/", k.azure_principal,
                              resource, now + std::chrono::hours(1), now)))
        .field_string("expires_in", "3599")
        .field_string("resource", resource)
        .field_string("token_type", "Bearer")
        .end_object();
    return response.set_json(200, j.str());
  }
  text(404, "");
}

}  // namespace eca::sandbox

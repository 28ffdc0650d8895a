#include "clients/cloud_identity.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "clients/scrub.h"
#include "common/clock.h"
#include "common/json.h"

namespace eca {
namespace {

constexpr std::size_t kMaxTokenFile = 64 * 1024;
constexpr const char* kStsBody = "Action=GetCallerIdentity&Version=2011-06-15";

struct MethodName {
  InfisicalAuthMethod method;
  const char* name;
};
constexpr MethodName kMethods[] = {
    {InfisicalAuthMethod::Universal, "universal-auth"},
    {InfisicalAuthMethod::AwsIam, "aws-iam"},
    {InfisicalAuthMethod::GcpIdToken, "gcp-id-token"},
    {InfisicalAuthMethod::Azure, "azure"},
    {InfisicalAuthMethod::Kubernetes, "kubernetes"},
    {InfisicalAuthMethod::Oidc, "oidc"},
    {InfisicalAuthMethod::Jwt, "jwt"},
};

Secret base64(std::string_view bytes) {
  Secret out =
      Secret::zeroed(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.truncate(std::strlen(out.c_str()));
  return out;
}

void json_field(Secret& body, const char* name, std::string_view value, bool first = false) {
  if (!first) body.append(",");
  body.append("\"");
  body.append(name);
  body.append("\":\"");
  json::append_escaped(body, value);
  body.append("\"");
}

bool valid_region(const std::string& r) {
  if (r.empty() || r.size() > 32) return false;
  for (char c : r) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// The whole file, trimmed of surrounding whitespace; it is re-read at each login.
Result<Secret> read_token_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Error::auth("cannot open token file " + path + ": " + std::strerror(errno));
  }
  Secret value;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    value.append(std::string_view(buf, static_cast<std::size_t>(n)));
    if (value.size() > kMaxTokenFile) break;
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  if (value.size() > kMaxTokenFile) return Error::auth("token file " + path + " is over 64 KiB");
  std::string_view v = value.view();
  std::size_t start = v.find_first_not_of(" \t\r\n");
  std::size_t end = v.find_last_not_of(" \t\r\n");
  if (start == std::string_view::npos) return Error::auth("token file " + path + " is empty");
  return Secret(v.substr(start, end - start + 1));
}

std::string utc_text(long long unix_seconds) {
  return format_time(TimePoint(std::chrono::seconds(unix_seconds)), "%Y-%m-%d %H:%M:%S UTC",
                     Zone::Utc);
}

}  // namespace

const char* auth_method_name(InfisicalAuthMethod method) {
  for (const auto& m : kMethods) {
    if (m.method == method) return m.name;
  }
  return "unknown";
}

std::optional<InfisicalAuthMethod> parse_auth_method(std::string_view name) {
  for (const auto& m : kMethods) {
    if (name == m.name) return m.method;
  }
  return std::nullopt;
}

CloudIdentity::CloudIdentity(HttpTransport& metadata, CloudIdentitySettings settings, Env env,
                             Now now)
    : metadata_(metadata), s_(std::move(settings)), env_(std::move(env)), now_(std::move(now)) {
  if (!env_) {
    env_ = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      if (v == nullptr || *v == '\0') return std::nullopt;
      return std::string(v);
    };
  }
  if (!now_) now_ = [] { return std::chrono::system_clock::now(); };
}

Result<InfisicalLoginRequest> CloudIdentity::login_request() {
  switch (s_.method) {
    case InfisicalAuthMethod::AwsIam:
      return aws();
    case InfisicalAuthMethod::GcpIdToken:
      return gcp();
    case InfisicalAuthMethod::Azure:
      return azure();
    case InfisicalAuthMethod::Kubernetes:
      return token_file("/v1/auth/kubernetes-auth/login", "Kubernetes service account token");
    case InfisicalAuthMethod::Oidc:
      return token_file("/v1/auth/oidc-auth/login", "OIDC token");
    case InfisicalAuthMethod::Jwt:
      return token_file("/v1/auth/jwt-auth/login", "JWT");
    case InfisicalAuthMethod::Universal:
      break;
  }
  return Error::permanent("universal-auth has no cloud identity proof");
}

std::string CloudIdentity::base(const char* env_name, const char* fallback) const {
  if (!s_.metadata_url.empty()) return trim_slash(s_.metadata_url);
  if (env_name != nullptr) {
    if (auto v = env_(env_name)) {
      // GCE_METADATA_HOST is host[:port]; AWS_EC2_METADATA_SERVICE_ENDPOINT a URL.
      return trim_slash(v->find("://") == std::string::npos ? "http://" + *v : *v);
    }
  }
  return fallback;
}

Result<HttpResponse> CloudIdentity::metadata_get(
    const std::string& method, const std::string& url,
    std::vector<std::pair<std::string, std::string>> headers, const char* endpoint,
    const std::string& what) {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.headers = std::move(headers);
  req.endpoint = endpoint;
  auto res = metadata_.send(req);
  if (!res) {
    Error e = res.error();
    e.message = what + " at " + url.substr(0, url.find('?')) + " is unreachable (" + e.message +
                "): the agent is not running on that cloud, or a firewall or the service "
                "unit's IP address policy blocks the metadata address; see [infisical.auth] "
                "metadata_url";
    return e;
  }
  return res;
}

// ---- AWS IAM -------------------------------------------------------------------------

Result<std::string> CloudIdentity::imds_session_token() {
  const std::string url =
      base("AWS_EC2_METADATA_SERVICE_ENDPOINT", kAwsImdsUrl) + "/latest/api/token";
  auto res = metadata_get("PUT", url, {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
                          "meta.aws_token", "AWS instance metadata (IMDSv2)");
  if (!res) return res.error();
  if (res->status != 200 || res->body.empty()) {
    return Error::auth("AWS instance metadata (IMDSv2) refused a session token (HTTP " +
                       std::to_string(res->status) +
                       "): check the instance's metadata options (http-endpoint enabled, "
                       "http-put-response-hop-limit 2 or more inside a container), or set "
                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the service environment");
  }
  return std::string(res->body.view());
}

Result<AwsCredentials> CloudIdentity::aws_credentials(std::string& imds_token) {
  auto key_id = env_("AWS_ACCESS_KEY_ID");
  auto secret = env_("AWS_SECRET_ACCESS_KEY");
  if (key_id && secret) {
    AwsCredentials c;
    c.access_key_id = *key_id;
    c.secret_access_key = Secret(*secret);
    if (auto token = env_("AWS_SESSION_TOKEN")) c.session_token = Secret(*token);
    sodium_memzero(secret->data(), secret->size());
    aws_source_ = "environment";
    return c;
  }
  if (imds_token.empty()) {
    auto t = imds_session_token();
    if (!t) return t.error();
    imds_token = std::move(*t);
  }
  const std::string roles_url = base("AWS_EC2_METADATA_SERVICE_ENDPOINT", kAwsImdsUrl) +
                                "/latest/meta-data/iam/security-credentials/";
  auto roles = metadata_get("GET", roles_url, {{"X-aws-ec2-metadata-token", imds_token}},
                            "meta.aws_role", "AWS instance metadata (IMDSv2)");
  if (!roles) return roles.error();
  std::string role(roles->body.view().substr(0, roles->body.view().find('\n')));
  if (roles->status != 200 || role.empty() || role.find('/') != std::string::npos) {
    return Error::auth("the EC2 instance has no IAM role (IMDS answered HTTP " +
                       std::to_string(roles->status) +
                       " for its role list): attach an instance profile whose role Infisical's AWS "
                       "Auth allows");
  }
  auto creds = metadata_get("GET", roles_url + role, {{"X-aws-ec2-metadata-token", imds_token}},
                            "meta.aws_creds", "AWS instance metadata (IMDSv2)");
  if (!creds) return creds.error();
  if (creds->status != 200) {
    return Error::auth("AWS instance metadata refused the credentials of role " +
                       scrub_server_text(role, 80) + " (HTTP " + std::to_string(creds->status) +
                       ")");
  }
  auto parsed = parse_imds_credentials(creds->body);
  if (parsed) aws_source_ = "instance role " + scrub_server_text(role, 80);
  return parsed;
}

Result<std::string> CloudIdentity::aws_region(std::string& imds_token) {
  if (!s_.region.empty()) return s_.region;
  if (auto r = env_("AWS_REGION")) return *r;
  if (auto r = env_("AWS_DEFAULT_REGION")) return *r;
  if (imds_token.empty()) {
    auto t = imds_session_token();
    if (!t) return t.error();
    imds_token = std::move(*t);
  }
  const std::string url = base("AWS_EC2_METADATA_SERVICE_ENDPOINT", kAwsImdsUrl) +
                          "/latest/dynamic/instance-identity/document";
  auto doc = metadata_get("GET", url, {{"X-aws-ec2-metadata-token", imds_token}}, "meta.aws_region",
                          "AWS instance metadata (IMDSv2)");
  if (!doc) return doc.error();
  if (doc->status != 200) {
    return Error::auth("AWS instance metadata did not give the instance identity document (HTTP " +
                       std::to_string(doc->status) + "); set [infisical.auth] region");
  }
  return parse_identity_document_region(doc->body);
}

Result<InfisicalLoginRequest> CloudIdentity::aws() {
  std::string imds_token;
  auto creds = aws_credentials(imds_token);
  if (!creds) return creds.error();
  auto region = aws_region(imds_token);
  if (!region) return region.error();
  if (!valid_region(*region)) {
    return Error::permanent("AWS region " + scrub_server_text(*region, 40) +
                            " is not a region name such as \"eu-west-1\"; check [infisical.auth] "
                            "region or AWS_REGION");
  }
  SigV4Request r;
  r.method = "POST";
  r.body = kStsBody;
  r.region = *region;
  r.service = "sts";
  r.amz_date =
      amz_date(std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count());
  r.headers = {{"Host", "sts." + *region + ".amazonaws.com"},
               {"X-Amz-Date", r.amz_date},
               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"Content-Length", std::to_string(r.body.size())}};
  if (!creds->session_token.empty()) {
    r.headers.emplace_back("X-Amz-Security-Token", std::string(creds->session_token.view()));
  }
  const std::string authorization =
      sigv4_authorization(r, creds->access_key_id, creds->secret_access_key.view());
  Secret headers("{");
  bool first = true;
  for (const auto& [name, value] : r.headers) {
    json_field(headers, name.c_str(), value, first);
    first = false;
  }
  json_field(headers, "Authorization", authorization);
  headers.append("}");
  if (!r.headers.empty() && r.headers.back().first == "X-Amz-Security-Token") {
    sodium_memzero(r.headers.back().second.data(), r.headers.back().second.size());
  }
  InfisicalLoginRequest out;
  out.route = "/v1/auth/aws-auth/login";
  out.body.append("{");
  json_field(out.body, "identityId", s_.identity_id, true);
  json_field(out.body, "iamHttpRequestMethod", "POST");
  json_field(out.body, "iamRequestBody", base64(kStsBody).view());
  json_field(out.body, "iamRequestHeaders", base64(headers.view()).view());
  out.body.append("}");
  out.check = "check that machine identity " + s_.identity_id +
              " has AWS Auth and allows this principal (" + aws_source_ + ", region " + *region +
              ") in its allowed principal ARNs or account ids";
  return out;
}

// ---- GCP and Azure -----------------------------------------------------------------

Result<InfisicalLoginRequest> CloudIdentity::gcp() {
  const std::string url =
      base("GCE_METADATA_HOST", kGcpMetadataUrl) +
      "/computeMetadata/v1/instance/service-accounts/default/identity?audience=" +
      json::url_encode(s_.identity_id) + "&format=full";
  auto res = metadata_get("GET", url, {{"Metadata-Flavor", "Google"}}, "meta.gcp_token",
                          "the GCP metadata server");
  if (!res) return res.error();
  const std::string* flavor = res->header("metadata-flavor");
  if (res->status != 200 || flavor == nullptr || *flavor != "Google") {
    return Error::auth("the GCP metadata server gave no identity token (HTTP " +
                       std::to_string(res->status) +
                       (flavor == nullptr ? ", and no Metadata-Flavor header: not a GCP metadata "
                                            "server"
                                          : "") +
                       "): the VM needs a service account attached");
  }
  auto exp = jwt_expiry(res->body.view());
  if (!exp) return Error::auth("the GCP metadata server's identity token: " + exp.error().message);
  InfisicalLoginRequest out;
  out.route = "/v1/auth/gcp-auth/login";
  out.body.append("{");
  json_field(out.body, "identityId", s_.identity_id, true);
  json_field(out.body, "jwt", res->body.view());
  out.body.append("}");
  out.check = "check that machine identity " + s_.identity_id +
              " has GCP Auth (type ID token) allowing this VM's service account";
  return out;
}

Result<InfisicalLoginRequest> CloudIdentity::azure() {
  const std::string url = base(nullptr, kAzureImdsUrl) +
                          "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
                          json::url_encode(s_.resource);
  auto res = metadata_get("GET", url, {{"Metadata", "true"}}, "meta.azure_token",
                          "Azure instance metadata (IMDS)");
  if (!res) return res.error();
  if (res->status != 200) {
    return Error::auth("Azure instance metadata gave no managed identity token (HTTP " +
                       std::to_string(res->status) +
                       "): enable a managed identity on the VM (system- or user-assigned)");
  }
  auto token = parse_azure_token(res->body);
  if (!token) return token.error();
  InfisicalLoginRequest out;
  out.route = "/v1/auth/azure-auth/login";
  out.body.append("{");
  json_field(out.body, "identityId", s_.identity_id, true);
  json_field(out.body, "jwt", token->view());
  out.body.append("}");
  out.check = "check that machine identity " + s_.identity_id +
              " has Azure Auth with this tenant, resource " + s_.resource +
              " and the VM's managed identity principal id allowed";
  return out;
}

// ---- token files -------------------------------------------------------------------

Result<InfisicalLoginRequest> CloudIdentity::token_file(const char* route, const char* what) {
  std::string path = s_.token_file;
  if (path.empty() && s_.method == InfisicalAuthMethod::Kubernetes) path = kKubernetesTokenFile;
  auto token = read_token_file(path);
  if (!token) return token.error();
  auto exp = jwt_expiry(token->view());
  if (!exp)
    return Error::auth(std::string("the ") + what + " in " + path + ": " + exp.error().message);
  const long long now =
      std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
  if (exp->has_value() && **exp <= now) {
    return Error::auth(std::string("the ") + what + " in " + path + " expired at " +
                       utc_text(**exp) + " (" + std::to_string((now - **exp) / 60) +
                       " min ago): whatever renews it (kubelet's projected volume, a SPIFFE "
                       "helper) is not running or cannot write there; nothing was sent");
  }
  InfisicalLoginRequest out;
  out.route = route;
  out.body.append("{");
  json_field(out.body, "identityId", s_.identity_id, true);
  json_field(out.body, "jwt", token->view());
  out.body.append("}");
  out.check = "check that machine identity " + s_.identity_id + " has " +
              (s_.method == InfisicalAuthMethod::Kubernetes
                   ? std::string("Kubernetes Auth allowing this service account")
               : s_.method == InfisicalAuthMethod::Oidc
                   ? std::string("OIDC Auth with this token's issuer, subject and audience")
                   : std::string("JWT Auth with the key that signed the token")) +
              " (token file " + path + ")";
  return out;
}

// ---- parsers -----------------------------------------------------------------------

Result<AwsCredentials> parse_imds_credentials(Secret& body) {
  rapidjson::Document doc;
  auto p = json::parse_in_place(body, doc, "AWS instance role credentials");
  if (!p) return p.error();
  if (!doc.IsObject()) return Error::auth("AWS instance role credentials are not a JSON object");
  if (auto code = json::str(doc, "Code"); code && *code != "Success") {
    // Codes are CamelCase words (AssumeRoleUnauthorizedAccess) that the scrubber would
    // take for a token; letters only cannot carry one.
    const bool word = code->size() <= 64 && std::all_of(code->begin(), code->end(), [](char c) {
                        return std::isalpha(static_cast<unsigned char>(c)) != 0;
                      });
    return Error::auth("AWS instance metadata has no usable role credentials (Code " +
                       (word ? std::string(*code) : scrub_server_text(*code, 60)) +
                       "): check the instance profile's role and its trust policy");
  }
  auto id = json::str(doc, "AccessKeyId");
  auto secret = json::str(doc, "SecretAccessKey");
  if (!id || id->empty() || !secret || secret->empty()) {
    return Error::auth("AWS instance role credentials lack AccessKeyId or SecretAccessKey");
  }
  AwsCredentials c;
  c.access_key_id = scrub_server_text(*id, 128);
  c.secret_access_key = Secret(*secret);
  if (auto token = json::str(doc, "Token")) c.session_token = Secret(*token);
  return c;
}

Result<std::string> parse_identity_document_region(Secret& body) {
  rapidjson::Document doc;
  auto p = json::parse_in_place(body, doc, "AWS instance identity document");
  if (!p) return p.error();
  auto region = doc.IsObject() ? json::str(doc, "region") : std::nullopt;
  if (!region || !valid_region(std::string(*region))) {
    return Error::auth(
        "the AWS instance identity document has no valid region; set "
        "[infisical.auth] region");
  }
  return std::string(*region);
}

Result<Secret> parse_azure_token(Secret& body) {
  rapidjson::Document doc;
  auto p = json::parse_in_place(body, doc, "Azure managed identity token answer");
  if (!p) return p.error();
  auto token = doc.IsObject() ? json::str(doc, "access_token") : std::nullopt;
  if (!token || token->empty()) {
    return Error::auth("Azure instance metadata's answer has no access_token");
  }
  return Secret(*token);
}

Result<std::optional<long long>> jwt_expiry(std::string_view token) {
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Error::auth("not a JWT (expected three dot-separated parts)");
  }
  const std::string_view payload = token.substr(first + 1, second - first - 1);
  Secret decoded = Secret::zeroed(payload.size() + 1);
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                        payload.data(), payload.size(), "=", &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return Error::auth("not a JWT (its claims are not base64url)");
  }
  decoded.truncate(len);
  rapidjson::Document doc;
  auto p = json::parse_in_place(decoded, doc, "JWT claims");
  if (!p || !doc.IsObject()) return Error::auth("not a JWT (its claims are not a JSON object)");
  auto it = doc.FindMember("exp");
  if (it == doc.MemberEnd()) return std::optional<long long>();
  if (it->value.IsInt64()) return std::optional<long long>(it->value.GetInt64());
  if (it->value.IsNumber() && std::isfinite(it->value.GetDouble()) &&
      std::fabs(it->value.GetDouble()) < 1e15) {
    return std::optional<long long>(static_cast<long long>(it->value.GetDouble()));
  }
  return Error::auth("the JWT's exp claim is not a number");
}

}  // namespace eca

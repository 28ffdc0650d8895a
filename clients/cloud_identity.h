// CloudIdentity: the proof a machine-identity login to Infisical carries when the VM
// holds no client secret: its cloud identity (AWS IAM, GCP, Azure managed identity)
// or a workload token in a file (Kubernetes service account, OIDC, JWT).
//
// Each login asks afresh: metadata tokens expire within the hour and token files are
// rotated under the agent (kubelet, a SPIFFE helper), so nothing is cached here.
// Metadata services are plain HTTP on link-local addresses; the caller gives a
// transport that never uses a proxy and gives up within seconds (MetadataTransport).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "clients/http_transport.h"
#include "common/result.h"
#include "common/secret.h"
#include "crypto/sigv4.h"

namespace eca {

enum class InfisicalAuthMethod { Universal, AwsIam, GcpIdToken, Azure, Kubernetes, Oidc, Jwt };

// The config name ("universal-auth", "aws-iam", ...) and back.
const char* auth_method_name(InfisicalAuthMethod method);
std::optional<InfisicalAuthMethod> parse_auth_method(std::string_view name);
// Whether the method needs a shared secret stored on the VM.
inline bool uses_static_secret(InfisicalAuthMethod m) {
  return m == InfisicalAuthMethod::Universal;
}

inline constexpr const char* kAwsImdsUrl = "http://169.254.169.254";
inline constexpr const char* kGcpMetadataUrl = "http://metadata.google.internal";
inline constexpr const char* kAzureImdsUrl = "http://169.254.169.254";
inline constexpr const char* kKubernetesTokenFile =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr const char* kAzureDefaultResource = "https://management.azure.com/";

struct CloudIdentitySettings {
  InfisicalAuthMethod method = InfisicalAuthMethod::AwsIam;
  std::string identity_id;   // the Infisical machine identity's id
  std::string region;        // aws-iam: empty = $AWS_REGION, then the identity document
  std::string metadata_url;  // empty = the cloud's own address (or its SDK's env override)
  std::string resource = kAzureDefaultResource;  // azure: the token's audience
  std::string token_file;  // kubernetes (default kKubernetesTokenFile), oidc, jwt
};

// One login request for Infisical: route under /api and JSON body.
struct InfisicalLoginRequest {
  std::string route;  // "/v1/auth/aws-auth/login"
  Secret body;
  std::string check;  // what the operator checks when Infisical refuses it
};

class CloudIdentity {
 public:
  using Env = std::function<std::optional<std::string>(const std::string&)>;
  using Now = std::function<std::chrono::system_clock::time_point()>;
  // `metadata` is only used for the metadata services; `env` and `now` are seams.
  CloudIdentity(HttpTransport& metadata, CloudIdentitySettings settings, Env env = {},
                Now now = {});

  Result<InfisicalLoginRequest> login_request();

  // Which credentials aws-iam signed with last ("environment" or "instance role NAME").
  const std::string& aws_source() const { return aws_source_; }

 private:
  Result<InfisicalLoginRequest> aws();
  Result<InfisicalLoginRequest> gcp();
  Result<InfisicalLoginRequest> azure();
  Result<InfisicalLoginRequest> token_file(const char* route, const char* what);
  Result<AwsCredentials> aws_credentials(std::string& imds_token);
  Result<std::string> imds_session_token();
  Result<std::string> aws_region(std::string& imds_token);
  Result<HttpResponse> metadata_get(const std::string& method, const std::string& url,
                                    std::vector<std::pair<std::string, std::string>> headers,
                                    const char* endpoint, const std::string& what);
  std::string base(const char* env_name, const char* fallback) const;

  HttpTransport& metadata_;
  CloudIdentitySettings s_;
  Env env_;
  Now now_;
  std::string aws_source_;
};

// ---- parsers of metadata answers (fuzzed: tests/fuzz/fuzz_metadata_answers.cpp)

// IMDS role credentials: {"Code":"Success","AccessKeyId":..,"SecretAccessKey":..,"Token":..}.
Result<AwsCredentials> parse_imds_credentials(Secret& body);
// The "region" of an EC2 instance identity document.
Result<std::string> parse_identity_document_region(Secret& body);
// The "access_token" of an Azure IMDS token answer.
Result<Secret> parse_azure_token(Secret& body);
// The `exp` claim (Unix seconds) of a compact JWS, nullopt when it has none; an error
// when `token` is not a JWT at all.
Result<std::optional<long long>> jwt_expiry(std::string_view token);

}  // namespace eca

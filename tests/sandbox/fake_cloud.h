// The fake clouds: FakeMetadata serves the three metadata services a VM asks for its
// identity (AWS IMDSv2, the GCP metadata server, Azure IMDS) from one loopback port,
// and verify_cloud_login() is what the fake Infisical runs on a cloud-identity login:
// it checks the proof itself, not its presence.
//
// Endpoint names (for Fault::endpoint and the request log):
//   meta.aws_token   PUT  /latest/api/token (needs X-aws-ec2-metadata-token-ttl-seconds)
//   meta.aws_role    GET  /latest/meta-data/iam/security-credentials/
//   meta.aws_creds   GET  /latest/meta-data/iam/security-credentials/{role}
//   meta.aws_region  GET  /latest/dynamic/instance-identity/document
//   meta.gcp_token   GET  /computeMetadata/v1/instance/service-accounts/default/identity
//   meta.azure_token GET  /metadata/identity/oauth2/token
// IMDSv2 answers 401 to a GET without a valid session token, as EC2 does with IMDSv1
// disabled. GCP answers with a Metadata-Flavor: Google header and refuses requests
// without it (403); Azure refuses requests without "Metadata: true" (400).
//
// Fake issuers: the real services sign RS256 with their published keys; these sign
// HS256 (HMAC-SHA256 from libsodium) with a key shared with the verifier, which is
// enough to catch a token that was altered, expired, or minted for another audience.
// AWS: the verifier recomputes the SigV4 signature of the forwarded sts:GetCallerIdentity
// with the fake's secret key (what STS does) and refuses a wrong region, a date more
// than 15 minutes off, an unsigned or changed header, or a missing session token.
#pragma once

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/sandbox/fake_clock.h"
#include "tests/sandbox/fake_server.h"

namespace eca::sandbox {

struct FakeCloudKeys {
  // The instance role's temporary credentials (what IMDS hands out).
  std::string aws_access_key_id;
  std::string aws_secret_access_key;
  std::string aws_session_token;
  // Long-lived credentials (what an operator would put in the environment).
  std::string aws_static_key_id;
  std::string aws_static_secret;
  std::string aws_region = "eu-west-1";
  std::string aws_role = "eca-rotator-vm";
  std::string gcp_service_account = "eca-rotator@sandbox-project.iam.gserviceaccount.com";
  std::string azure_tenant;
  std::string azure_principal;
  std::string kubernetes_issuer = "https://kubernetes.default.svc.cluster.local";
  std::string kubernetes_subject = "system:serviceaccount:eca:eca-rotator";
  std::string oidc_issuer = "https://spiffe.sandbox.example";
  std::string oidc_subject = "spiffe://sandbox.example/eca-rotator";
  std::string oidc_audience = "infisical";
  // HS256 keys of the fake issuers.
  std::string gcp_key, azure_key, kubernetes_key, oidc_key;

  static std::shared_ptr<FakeCloudKeys> random();
};

// A compact HS256 JWS over `claims_json`.
std::string mint_hs256(const std::string& key, const std::string& claims_json);
// Claims of a Kubernetes service account token or an OIDC token, `exp` at `expires`.
std::string kubernetes_token(const FakeCloudKeys& keys,
                             std::chrono::system_clock::time_point expires);
std::string oidc_token(const FakeCloudKeys& keys, std::chrono::system_clock::time_point expires);

// Empty when the login `body` of `method` ("aws-auth", "gcp-auth", "azure-auth",
// "kubernetes-auth", "oidc-auth", "jwt-auth") proves identity `identity_id`; else why not,
// worded like the real server's refusal where known.
std::string verify_cloud_login(const FakeCloudKeys& keys, const std::string& method,
                               const rapidjson::Value& body, const std::string& identity_id,
                               std::chrono::system_clock::time_point now);

struct FakeMetadataOptions {
  ServerOptions server;
  bool refuse_imds_token = false;  // PUT /latest/api/token answers 403 (IMDS disabled)
};

class FakeMetadata : public FakeServer {
 public:
  FakeMetadata(std::shared_ptr<const FakeCloudKeys> keys, FakeMetadataOptions options = {},
               std::shared_ptr<FakeClock> clock = nullptr);
  ~FakeMetadata() override;
  void set_refuse_imds_token(bool refuse);

 protected:
  std::string classify(const HttpRequest& request) const override;
  void handle(const HttpRequest& request, HttpResponse& response) override;

 private:
  std::shared_ptr<const FakeCloudKeys> keys_;
  std::atomic<bool> refuse_imds_token_;
  std::mutex tokens_mu_;
  std::vector<std::string> imds_tokens_;
};

}  // namespace eca::sandbox

#include "tests/sandbox/sandbox.h"

#include <filesystem>

#include "crypto/rsa_signer.h"
#include "tests/sandbox/random_text.h"

namespace eca::sandbox {
namespace {

// tests/data/tls of the source tree, set by tests/CMakeLists.txt.
std::string default_tls_dir() {
  return ECA_SANDBOX_TLS_DIR;
}

}  // namespace

Sandbox::Sandbox(SandboxOptions options)
    : tls_dir_(options.tls_dir.empty() ? default_tls_dir() : options.tls_dir),
      https_(options.https),
      clock_(std::make_shared<FakeClock>()),
      state_mutex_(std::make_shared<std::recursive_mutex>()) {
  ServerOptions server;
  if (https_) {
    server.cert_file = tls_dir_ + "/server.pem";
    server.key_file = tls_dir_ + "/server.key";
  }
  FakeSalesforceOptions sf;
  sf.server = server;
  sf.server.port = options.salesforce_port;
  sf.stage_hang = options.stage_hang;
  sf.daily_api_max = options.salesforce_daily_api_max;
  FakeInfisicalOptions inf;
  inf.server = server;
  inf.server.port = options.infisical_port;
  inf.legacy_routes_only = options.infisical_legacy_routes_only;
  salesforce_ = std::make_unique<FakeSalesforce>(sf, clock_, state_mutex_);
  infisical_ = std::make_unique<FakeInfisical>(inf, clock_, state_mutex_);
  recorder_ = std::make_unique<InvariantRecorder>(*salesforce_, *infisical_, *state_mutex_);

  salesforce_->on_credential_change([this](const CredentialChange& change) {
    recorder_->check("Salesforce " + change.what + " (app " + change.app_id + ", consumer " +
                     change.consumer_id + ")");
  });
  infisical_->on_write([this](const WriteEvent& event) {
    recorder_->check("Infisical " + event.endpoint + " " + event.environment + ":" + event.path);
  });
  // Moving the clock can expire Rotated credentials that Infisical may still hold.
  clock_listener_ = clock_->on_change([this] { recorder_->check("the clock moved"); });

  connection_app_ = salesforce_->add_app(kConnectionAppName, "Connection App");
  for (int i = 1; i <= options.target_apps; ++i) {
    target_apps_.push_back(
        salesforce_->add_app("Target_App_" + std::to_string(i), "Target App " + std::to_string(i)));
  }
  infisical_client_id_ = random_uuid();
  infisical_client_secret_ = random_hex(64);
  project_id_ = random_uuid();
  infisical_->add_identity(infisical_client_id_, infisical_client_secret_);
  infisical_->add_project(project_id_, kProjectSlug, {"dev", "prod"});
  infisical_->add_member(project_id_, infisical_client_id_);
  // The same identity may also log in by each cloud identity, proven to the fake clouds.
  cloud_keys_ = FakeCloudKeys::random();
  infisical_->set_cloud_keys(cloud_keys_);
  for (const char* m :
       {"aws-auth", "gcp-auth", "azure-auth", "kubernetes-auth", "oidc-auth", "jwt-auth"}) {
    infisical_->add_cloud_auth(infisical_client_id_, m);
  }
  FakeMetadataOptions meta;
  meta.server.threads = 4;  // plain HTTP on loopback, like the link-local services
  metadata_ = std::make_unique<FakeMetadata>(cloud_keys_, meta, clock_);

  salesforce_->set_latency(options.latency);
  infisical_->set_latency(options.latency);
  infisical_->set_rate_limits(options.infisical_rate_limits);
  salesforce_->start();
  infisical_->start();
  metadata_->start();
}

Sandbox::~Sandbox() {
  stop();
}

void Sandbox::stop() {
  salesforce_->stop();
  infisical_->stop();
  metadata_->stop();
}

void Sandbox::enable_connection_jwt(const Secret& private_key_pem) {
  JwtSettings jwt;
  jwt.certificate_pem = self_signed_certificate_pem(private_key_pem, "eca-rotator sandbox");
  jwt.pre_authorized_users = {kJwtUsername};
  salesforce_->set_jwt(connection_app_.id, std::move(jwt));
}

std::string Sandbox::ca_file() const {
  return https_ ? tls_dir_ + "/ca.pem" : std::string();
}

void Sandbox::watch(const std::string& project_id, const std::string& environment,
                    const std::string& path, const std::string& key_name,
                    const std::string& secret_name, const std::string& app_id) {
  recorder_->watch({project_id, environment, path, key_name, secret_name, app_id});
}

}  // namespace eca::sandbox

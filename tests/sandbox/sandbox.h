// Sandbox: one fake Salesforce org and one fake Infisical (plus the fake clouds'
// metadata services, see fake_cloud.h) sharing a clock and a
// state lock, seeded with what an agent needs (a connection ECA, target ECAs, an
// Infisical identity and project), plus the invariant recorder.
//
//   SandboxOptions options;
//   options.https = true;
//   Sandbox sb(options);
//   sb.watch(sb.project_id(), "dev", "/salesforce/app1");
//   ... run the agent against sb.salesforce().base_url() / sb.infisical().base_url()
//   EXPECT_TRUE(sb.violations().empty());
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/secret.h"
#include "tests/sandbox/fake_clock.h"
#include "tests/sandbox/fake_infisical.h"
#include "tests/sandbox/fake_salesforce.h"
#include "tests/sandbox/invariant_recorder.h"

namespace eca::sandbox {

struct SandboxOptions {
  bool https = false;                    // serve both fakes with tests/data/tls/server.pem
  std::string tls_dir;                   // default: tests/data/tls of this source tree
  std::chrono::milliseconds latency{0};  // added to every request
  int salesforce_port = 0;               // 0 = ephemeral
  int infisical_port = 0;
  int target_apps = 3;  // "Target_App_1".. "Target_App_N"
  std::chrono::milliseconds stage_hang = std::chrono::seconds(30);
  // The fake org's DailyApiRequests.Max (its Remaining starts full each UTC day).
  long long salesforce_daily_api_max = 15000;
  // Infisical as the recorded mid-2025 build: no /api/v4/secrets, no /api/v2/folders.
  bool infisical_legacy_routes_only = false;
  // Infisical Cloud's per-minute limits in front of the fake (off by default, like a
  // self-hosted server).
  InfisicalRateLimits infisical_rate_limits;
};

class Sandbox {
 public:
  static constexpr const char* kConnectionAppName = "Connection_App";
  static constexpr const char* kProjectSlug = "eca-sandbox";
  static constexpr const char* kKeyName = "SALESFORCE_CONSUMER_KEY";
  static constexpr const char* kSecretName = "SALESFORCE_CONSUMER_SECRET";
  static constexpr const char* kJwtUsername = "integration@sandbox.example";

  // Seeds and starts both servers; throws std::runtime_error when they cannot listen.
  explicit Sandbox(SandboxOptions options = {});
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  FakeClock& clock() { return *clock_; }
  FakeSalesforce& salesforce() { return *salesforce_; }
  FakeInfisical& infisical() { return *infisical_; }
  const FakeSalesforce& salesforce() const { return *salesforce_; }
  const FakeInfisical& infisical() const { return *infisical_; }
  // AWS IMDSv2, the GCP metadata server and Azure IMDS, and their issuers' keys.
  FakeMetadata& metadata() { return *metadata_; }
  const FakeMetadata& metadata() const { return *metadata_; }
  const FakeCloudKeys& cloud_keys() const { return *cloud_keys_; }
  std::string infisical_identity_id() const {
    return infisical_->identity_id(infisical_client_id_);
  }

  // The ECA whose credentials the agent's connection uses (never a rotation target).
  const AppInfo& connection_app() const { return connection_app_; }
  const std::vector<AppInfo>& target_apps() const { return target_apps_; }
  const std::string& infisical_client_id() const { return infisical_client_id_; }
  const std::string& infisical_client_secret() const { return infisical_client_secret_; }
  const std::string& project_id() const { return project_id_; }
  std::string ca_file() const;  // empty unless https
  const std::string& tls_dir() const { return tls_dir_; }

  // "Enable JWT Bearer Flow" on the connection ECA with a self-signed certificate of
  // `private_key_pem`'s key, kJwtUsername pre-authorized, the fake's default audiences.
  void enable_connection_jwt(const Secret& private_key_pem);

  // ---- invariant recorder
  void set_decoder(ValueDecoder decoder) { recorder_->set_decoder(std::move(decoder)); }
  // `app_id` (optional) also requires the pair to belong to that ECA.
  void watch(const std::string& project_id, const std::string& environment, const std::string& path,
             const std::string& key_name = kKeyName, const std::string& secret_name = kSecretName,
             const std::string& app_id = "");
  void check_now(const std::string& reason = "explicit check") { recorder_->check(reason); }
  std::vector<Violation> violations() const { return recorder_->violations(); }
  void clear_violations() { recorder_->clear(); }

  // Stops both servers (also done by the destructor).
  void stop();

 private:
  std::string tls_dir_;
  bool https_ = false;
  std::shared_ptr<FakeClock> clock_;
  std::shared_ptr<std::recursive_mutex> state_mutex_;
  std::unique_ptr<FakeSalesforce> salesforce_;
  std::unique_ptr<FakeInfisical> infisical_;
  std::unique_ptr<InvariantRecorder> recorder_;
  std::shared_ptr<FakeCloudKeys> cloud_keys_;
  std::unique_ptr<FakeMetadata> metadata_;
  AppInfo connection_app_;
  std::vector<AppInfo> target_apps_;
  std::string infisical_client_id_;
  std::string infisical_client_secret_;
  std::string project_id_;
  int clock_listener_ = 0;
};

}  // namespace eca::sandbox

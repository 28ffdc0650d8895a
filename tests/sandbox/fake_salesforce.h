// FakeSalesforce: an in-process Salesforce org serving the OAuth token endpoint and
// the External Client App OAuth Credentials API (spec/salesforce.md), quirks
// included, and knowing at every instant which credentials authenticate.
//
// Endpoint names (for Fault::endpoint and the request log):
//   sf.token         POST /services/oauth2/token
//   sf.usage         R1 GET  .../apps/oauth/usage
//   sf.consumers     R2 GET  .../apps/oauth/credentials/{appId}
//   sf.read_primary  R3 GET  .../credentials/{appId}/{consumerId}?part=...
//   sf.staged_list   R4 GET  .../{consumerId}/staged
//   sf.stage         R5 POST .../{consumerId}/staged
//   sf.staged_get    R6 GET  .../staged/{stagedId}
//   sf.promote       R7 PATCH .../staged/{stagedId}  {"command":"rotate"}
//   sf.revoke        R8 DELETE .../staged/{stagedId}
//   sf.limits        GET  /services/data/vXX.X/limits (DailyApiRequests and two others)
//   sf.other         anything else (answered 404 NOT_FOUND)
// Admin routes (never faulted or logged): GET /__sandbox/credentials (key
// fingerprints and slot states only), POST /__sandbox/clock {"advance_seconds":N},
// GET/POST /__sandbox/limits {"max":N,"remaining":M} (either key optional).
//
// Daily API requests: every authenticated REST request (/services/data/...) takes one from
// DailyApiRequests.Remaining, /limits included (Salesforce's documentation does not say
// the limits resource is free, so the fake counts it: the stricter choice; the Remaining it
// answers is taken after that call). OAuth token requests (/services/oauth2/token: logins
// and the agent's verify step) do not count, as at Salesforce. At 0 a REST request
// answers 403 REQUEST_LIMIT_EXCEEDED and is not served. The count resets at the fake
// clock's next UTC midnight ([guess]: Salesforce documents a rolling 24-hour window; a
// midnight reset is what the agent's "next try after the daily reset" assumes).
//
// JWT bearer (spec/identity.md §1), once set_jwt() enabled it on an app: the assertion
// must be RS256 over {"alg":"RS256"} and claims, signed by the key of the app's
// certificate, `iss` a consumer key of that app, `aud` in the accepted list, `exp` after
// the fake clock's now, `sub` a pre-authorized user. Checked in that order; each failure
// answers 400 with the spec's error_description. [guess] An `exp` far in the future is
// accepted (the spec only says "within 3 minutes").
//
// Choices where the spec says [guess]: R5 answers 201, R7 answers 200 with the
// slot in R4's shape (the former primary, now Rotated); a Rotated credential past
// its expirationDate stays in the slot as Expired (no longer authenticates, can be
// deleted, and R5 replaces it); R3 without `part` answers key and secret.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/sandbox/fake_clock.h"
#include "tests/sandbox/fake_server.h"

namespace eca::sandbox {

struct Credential {
  std::string key;
  std::string secret;
};

enum class StagedState { Active, Rotated, Expired };
const char* to_string(StagedState state);

struct StagedCredential {
  std::string id;  // 18 characters, "0Ls..."
  Credential credential;
  StagedState state = StagedState::Active;  // as of the fake clock's now
  FakeClock::time_point created_date;
  std::string created_by;
  std::optional<FakeClock::time_point> expiration_date;  // set once Rotated
};

struct ConsumerInfo {
  std::string id;  // 18 characters, "888..."
  std::string name;
  Credential primary;
};

struct AppInfo {
  std::string id;  // 18 characters, "0xI..."
  std::string developer_name;
  std::string label;
  std::vector<ConsumerInfo> consumers;

  const Credential& primary() const { return consumers.at(0).primary; }
  const std::string& consumer_id() const { return consumers.at(0).id; }
};

// What R5 does when the consumer's one staged slot is taken.
enum class SlotPolicy {
  Reject,          // 400 INVALID_INPUT while an Active or Rotated credential is there
  ReplaceRotated,  // a Rotated one is silently deleted and replaced; Active still 400
};

// A change to which credentials authenticate (observers run under the state lock).
struct CredentialChange {
  std::string app_id;
  std::string consumer_id;
  std::string what;  // "stage", "replace_rotated", "promote", "revoke"
};

// "Enable JWT Bearer Flow" on an ECA, and who may log in through it.
struct JwtSettings {
  std::string certificate_pem;  // or a PEM public key
  std::vector<std::string> pre_authorized_users;
  std::vector<std::string> audiences = {"https://login.salesforce.com",
                                        "https://test.salesforce.com"};
};

struct FakeSalesforceOptions {
  ServerOptions server;
  std::chrono::seconds token_lifetime = std::chrono::hours(2);
  std::chrono::milliseconds stage_hang = std::chrono::seconds(30);  // body-less R5
  std::chrono::seconds rotated_lifetime = std::chrono::hours(24 * 30);
  SlotPolicy slot_policy = SlotPolicy::Reject;
  bool rest_secret_access = true;
  int default_page_size = 25;       // R1
  long long daily_api_max = 15000;  // DailyApiRequests.Max (a Developer Edition org's)
};

struct DailyApiUsage {
  long long max = 0;
  long long remaining = 0;
};

class FakeSalesforce : public FakeServer {
 public:
  // Null clock / mutex: the fake makes its own (the Sandbox shares them).
  explicit FakeSalesforce(FakeSalesforceOptions options = {},
                          std::shared_ptr<FakeClock> clock = nullptr,
                          std::shared_ptr<std::recursive_mutex> state_mutex = nullptr);
  ~FakeSalesforce() override;

  // Seeds an ECA with `consumers` consumers, each with a fresh primary credential.
  // `never_used` apps are missing from R1, like never-used ECAs in a real org.
  AppInfo add_app(const std::string& developer_name, const std::string& label = "",
                  int consumers = 1, bool never_used = false);
  std::vector<AppInfo> apps() const;

  // `app_id`/`consumer_id` take the 15- or 18-character form; an empty consumer id
  // means the app's first consumer. nullopt when there is no such app/consumer/slot.
  std::optional<Credential> primary(const std::string& app_id,
                                    const std::string& consumer_id = "") const;
  std::optional<StagedCredential> staged(const std::string& app_id,
                                         const std::string& consumer_id = "") const;

  // Whether a client-credentials token request with this pair succeeds now.
  bool authenticates(std::string_view key, std::string_view secret) const;
  // The 18-character id of the app whose primary or staged credential has this
  // key (whatever its state); empty when no app has it.
  std::string app_of_key(std::string_view key) const;

  // Out-of-band changes, as an admin clicking in Setup would make them (R5, R7,
  // R8 semantics without HTTP; false/nullopt when the API would refuse).
  std::optional<StagedCredential> stage_by_hand(const std::string& app_id,
                                                const std::string& consumer_id = "");
  bool promote_by_hand(const std::string& app_id, const std::string& consumer_id = "");
  bool revoke_staged_by_hand(const std::string& app_id, const std::string& consumer_id = "");

  // Enables the JWT bearer flow on an app (nullopt: disables it).
  void set_jwt(const std::string& app_id, std::optional<JwtSettings> settings);
  // Tokens issued by the JWT bearer flow so far (each one verified a signature).
  int jwt_logins() const;

  void set_slot_policy(SlotPolicy policy);
  void set_rest_secret_access(bool enabled);
  void set_token_lifetime(std::chrono::seconds lifetime);
  void set_stage_hang(std::chrono::milliseconds hang);
  void expire_all_tokens();
  // DailyApiRequests as of the fake clock's now; set_daily_api sets Max and Remaining (for
  // today: the next UTC midnight resets Remaining to Max).
  DailyApiUsage daily_api() const;
  void set_daily_api(long long max, long long remaining);
  // REST requests counted against the daily budget since the fake started.
  long long rest_requests() const;
  int live_token_count() const;

  void on_credential_change(std::function<void(const CredentialChange&)> observer);

 protected:
  std::string classify(const HttpRequest& request) const override;
  void handle(const HttpRequest& request, HttpResponse& response) override;

 private:
  struct Consumer {
    std::string id;
    std::string name;
    Credential primary;
    std::optional<StagedCredential> staged;
  };
  struct App {
    std::string id;
    std::string developer_name;
    std::string label;
    bool never_used = false;
    std::vector<Consumer> consumers;
    std::optional<JwtSettings> jwt;
  };
  struct Route {
    std::string endpoint;  // sf.*
    bool rest = false;     // under /services/data/
    bool version_ok = false;
    std::string version;  // "65.0"
    std::string app_id;
    std::string consumer_id;
    std::string staged_id;
    std::string allowed;  // for a known path with the wrong method: "GET,POST"
  };
  static Route route_of(const std::string& method, const std::string& path);

  App* find_app(std::string_view id);
  const App* find_app(std::string_view id) const;
  static Consumer* find_consumer(App& app, std::string_view id);
  StagedState state_now(const StagedCredential& staged) const;
  bool slot_taken(const Consumer& consumer) const;
  StagedCredential make_staged(const Credential& credential);
  void promote(App& app, Consumer& consumer);
  void notify(const App& app, const Consumer& consumer, const char* what);

  void handle_token(const HttpRequest& request, HttpResponse& response);
  // The error_description refusing this assertion, or empty when it is good.
  std::string jwt_refusal(const std::string& assertion, std::string& error) const;
  void issue_token(HttpResponse& response);
  void handle_rest(const HttpRequest& request, const Route& route, HttpResponse& response);
  void handle_admin(const HttpRequest& request, HttpResponse& response);
  void handle_limits_admin(const HttpRequest& request, HttpResponse& response);
  // Under the state lock: starts a new day's budget when the fake clock passed midnight.
  void roll_daily_api() const;
  std::string staged_json(const StagedCredential& staged, const std::string& consumer_url) const;
  std::string slot_json(const Consumer& consumer, const std::string& consumer_url) const;

  FakeSalesforceOptions options_;
  std::string org_id_;
  std::string run_as_user_id_;
  std::vector<App> apps_;
  std::map<std::string, FakeClock::time_point> tokens_;  // access token -> expiry
  int jwt_logins_ = 0;
  mutable long long api_used_today_ = 0;
  mutable long long api_day_ = -1;  // UTC days since the epoch of api_used_today_
  long long rest_requests_ = 0;
  std::vector<std::function<void(const CredentialChange&)>> observers_;
};

}  // namespace eca::sandbox

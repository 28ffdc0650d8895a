// SalesforceClient: the OAuth token and the OAuth Credentials API (R1–R8 of
// spec/salesforce.md) for one connection, and nothing else.
//
// Thread-safe: one client per connection is shared by all rotations using it.
// The connection token is cached and fetched again once on 401 INVALID_SESSION_ID (with
// JWT bearer, that is when a new assertion is signed: one signature per token).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clients/auth_session.h"
#include "clients/http_transport.h"
#include "clients/salesforce_api.h"
#include "common/result.h"
#include "common/secret.h"
#include "crypto/rsa_signer.h"

namespace eca {

class SalesforceClient : public SalesforceApi {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  // `now` dates JWT assertions (default: the system clock).
  SalesforceClient(HttpTransport& transport, SalesforceEndpoint endpoint, Now now = {});

  const SalesforceEndpoint& endpoint() const override { return ep_; }

  Result<std::vector<SfApp>> apps(int page_size = 50);                            // R1
  Result<std::vector<SfConsumer>> consumers(const std::string& app_id) override;  // R2
  Result<SfPair> read_primary(const std::string& app_id,
                              const std::string& consumer_id) override;  // R3
  Result<std::vector<SfStaged>> staged(const std::string& app_id,
                                       const std::string& consumer_id) override;  // R4
  Result<SfStaged> stage(const std::string& app_id,
                         const std::string& consumer_id) override;  // R5
  Status promote(const std::string& app_id, const std::string& consumer_id,
                 const std::string& staged_id) override;  // R7
  // 404 (already gone) counts as success.
  Status revoke(const std::string& app_id, const std::string& consumer_id,
                const std::string& staged_id) override;  // R8

  // The org's daily API requests (DailyApiRequests of GET /limits): a REST call itself.
  // A missing or malformed entry is a Permanent error naming what was wrong.
  Result<SfDailyApi> limits();

  // Requests a token with the given pair: ok when Salesforce accepts it. Auth error when
  // refused; Transient on network trouble.
  Status verify(const Secret& key, const Secret& secret) override;

  // Fetches the connection's token now (validate --online); normally done lazily.
  Status authenticate();

  // "client credentials" or "JWT bearer as USER (audience AUD)", the audience being the one
  // that last worked; for status and validate.
  std::string auth_summary() const;
  // Called with a one-line note worth logging (which JWT audience worked after a retry).
  void on_notice(std::function<void(const std::string&)> notice) { notice_ = std::move(notice); }
  // Called once per REST request sent (under /services/data/: what counts against the org's
  // daily API requests; token requests do not). Set before the client is shared.
  void on_rest_call(std::function<void()> counter) { on_rest_call_ = std::move(counter); }

 private:
  Result<Secret> token_for(const std::string& client_id, const Secret& secret,
                           const std::string& what);
  Result<Secret> jwt_token();
  Result<Secret> jwt_token_with(const std::string& audience, std::string& refusal);
  // POSTs a token request; `refusal` receives the scrubbed error_description.
  Result<Secret> post_token(Secret body, const std::string& what, bool jwt, std::string& refusal);
  Result<HttpResponse> call(const char* method, const std::string& path, const char* endpoint,
                            Secret body = {}, bool is_write = false);
  Result<HttpResponse> call_once(const char* method, const std::string& path, const char* endpoint,
                                 const Secret& body, bool is_write, const Secret& token);
  AuthSession::Options session_options();
  std::string base() const;
  Error rest_error(const HttpResponse& response, const std::string& what) const;

  HttpTransport& transport_;
  SalesforceEndpoint ep_;
  Now now_;
  std::function<void(const std::string&)> notice_;
  std::function<void()> on_rest_call_;
  mutable std::mutex jwt_mu_;        // signer_ and jwt_audience_
  std::optional<RsaSigner> signer_;  // parsed on the first JWT login
  std::string jwt_audience_;         // the audience that worked last
  AuthSession session_;              // the connection's token
};

}  // namespace eca

// SalesforceClient: the OAuth token and the OAuth Credentials API (R1–R8 of
// spec/salesforce.md) for one connection, and nothing else.
//
// Thread-safe: one client per connection is shared by all rotations using it.
// The connection token is cached and fetched again once on 401 INVALID_SESSION_ID.
#pragma once

#include <string>
#include <vector>

#include "clients/auth_session.h"
#include "clients/http_transport.h"
#include "common/result.h"
#include "clients/salesforce_api.h"
#include "common/secret.h"

namespace eca {

class SalesforceClient : public SalesforceApi {
 public:
  SalesforceClient(HttpTransport& transport, SalesforceEndpoint endpoint);

  const SalesforceEndpoint& endpoint() const override { return ep_; }

  Result<std::vector<SfApp>> apps(int page_size = 50);                       // R1
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

  // Requests a token with the given pair: ok when Salesforce accepts it. Auth error when
  // refused; Transient on network trouble.
  Status verify(const Secret& key, const Secret& secret) override;

  // Fetches the connection's token now (validate --online); normally done lazily.
  Status authenticate();

 private:
  Result<Secret> token_for(const std::string& client_id, const Secret& secret,
                           const std::string& what);
  Result<HttpResponse> call(const char* method, const std::string& path, const char* endpoint,
                            Secret body = {}, bool is_write = false);
  Result<HttpResponse> call_once(const char* method, const std::string& path,
                                 const char* endpoint, const Secret& body, bool is_write,
                                 const Secret& token);
  AuthSession::Options session_options();
  std::string base() const;
  Error rest_error(const HttpResponse& response, const std::string& what) const;

  HttpTransport& transport_;
  SalesforceEndpoint ep_;
  AuthSession session_;  // the connection's token
};

}  // namespace eca

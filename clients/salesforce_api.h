// SalesforceApi: the calls the rotation engine makes on one Salesforce connection
// (R2–R8 of spec/salesforce.md and the verify token request), and the values they carry.
//
// SalesforceClient implements it over HTTP; engine tests implement it in memory, so the
// protocol can be exercised (and crashed at every call) without a server.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clients/http_transport.h"
#include "common/result.h"
#include "common/secret.h"

namespace eca {

struct SfApp {
  std::string id;
  std::string developer_name;
  std::string label;
};

struct SfConsumer {
  std::string id;
  Secret key;  // the primary consumer key
  std::string name;
};

enum class StagedState { Active, Rotated, Expired, Other };

struct SfStaged {
  std::string id;
  Secret key;
  Secret secret;
  StagedState state = StagedState::Other;
  std::string created_date;     // as Salesforce wrote it
  std::string expiration_date;  // may be empty
};

// DailyApiRequests of the org's /limits answer.
struct SfDailyApi {
  long long max = 0;
  long long remaining = 0;
};

struct SfPair {
  Secret key;
  Secret secret;
};

// How the connection logs in: the client credentials flow with the ECA's consumer secret,
// or the JWT bearer flow with a private key whose certificate is on the ECA.
enum class SfAuthMethod { ClientCredentials, JwtBearer };
const char* to_string(SfAuthMethod method);

struct SalesforceEndpoint {
  std::string name;           // connection name, for messages
  std::string my_domain_url;  // no trailing slash
  std::string api_version = "v65.0";
  std::string client_id;  // the connection ECA's consumer key
  SfAuthMethod auth = SfAuthMethod::ClientCredentials;
  Secret client_secret;    // client credentials only
  std::string username;    // JWT bearer: the user the agent acts as (`sub`)
  std::string audience;    // JWT bearer: `aud`; empty = by host, with one My Domain retry
  Secret private_key_pem;  // JWT bearer
  TlsSettings tls;
};

// Compares Salesforce IDs: 18-char forms exactly, otherwise the first 15 chars case-sensitively.
bool same_sf_id(std::string_view a, std::string_view b);

class SalesforceApi {
 public:
  virtual ~SalesforceApi() = default;

  virtual const SalesforceEndpoint& endpoint() const = 0;
  virtual Result<std::vector<SfConsumer>> consumers(const std::string& app_id) = 0;  // R2
  virtual Result<SfPair> read_primary(const std::string& app_id,
                                      const std::string& consumer_id) = 0;  // R3
  virtual Result<std::vector<SfStaged>> staged(const std::string& app_id,
                                               const std::string& consumer_id) = 0;  // R4
  virtual Result<SfStaged> stage(const std::string& app_id,
                                 const std::string& consumer_id) = 0;  // R5
  virtual Status promote(const std::string& app_id, const std::string& consumer_id,
                         const std::string& staged_id) = 0;  // R7
  // 404 (already gone) counts as success.
  virtual Status revoke(const std::string& app_id, const std::string& consumer_id,
                        const std::string& staged_id) = 0;  // R8
  // Requests a token with the given pair: ok when Salesforce accepts it; an Auth error when
  // it is refused; Transient on network trouble.
  virtual Status verify(const Secret& key, const Secret& secret) = 0;
};

}  // namespace eca

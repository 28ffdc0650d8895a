// InfisicalClient: machine-identity login and the secret routes that eca-rotator
// needs (list a folder, batch upsert, create a folder, probe the environment).
//
// It speaks the current routes (/api/v4/secrets..., /api/v2/folders, `projectId`) and,
// when a server answers them with Fastify's "Route ... not found" 404 (a mid-2025
// self-hosted build has neither), falls back to the deprecated ones (/api/v3/secrets/
// raw..., /api/v1/folders, `workspaceId`) for the rest of the client's life: one
// probe per client, whatever the number of threads. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "clients/auth_session.h"
#include "clients/cloud_identity.h"
#include "clients/http_transport.h"
#include "clients/infisical_api.h"
#include "common/result.h"
#include "common/secret.h"

namespace eca {

struct InfisicalEndpoint {
  std::string url;  // site address, with or without "/api"
  std::string project_id;
  std::string environment;
  std::string client_id;
  Secret client_secret;
  TlsSettings tls;
  // Set for a login by cloud identity (no client secret on the VM): builds each login's
  // request afresh, since the proofs expire or rotate between logins.
  std::function<Result<InfisicalLoginRequest>()> login_request;
};

struct StoredSecret {
  std::string name;
  Secret value;
  long version = 0;
  std::map<std::string, std::string> metadata;
};

// A secret of a recursive list, with the folder it is in (its secretPath).
struct ListedSecret {
  std::string path;
  StoredSecret secret;
};

struct SecretWrite {
  std::string name;
  Secret value;
  std::map<std::string, std::string> metadata;
};

class InfisicalClient : public InfisicalApi {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  InfisicalClient(HttpTransport& transport, InfisicalEndpoint endpoint, Now now = {});

  Status login() override;
  // Renews the token (POST /api/v1/auth/token/renew), replacing it with the new one.
  Status renew() override;

  // Secrets in one folder (not recursive). A missing folder is an empty list.
  Result<std::vector<StoredSecret>> list(const std::string& path) override;

  // Secrets in `path` and every folder below it (recursive=true), each with its folder. A missing
  // folder is an empty list; folders the identity may not read are left out without a word
  // (Infisical filters them).
  Status list_recursive(const std::string& path, const EachListed& each) override;

  // One batch upsert of all `writes` (so a key and its secret change together); creates
  // the folder on "Folder not found" and retries once. An approval answer is an error:
  // nothing was written.
  // `echoed` (optional) receives the secrets the server says it stored (the answer carries
  // values but not metadata).
  Status upsert(const std::string& path, std::vector<SecretWrite>& writes,
                std::vector<StoredSecret>* echoed = nullptr) override;

  Status create_folder(const std::string& path) override;

  // GET /api/v2/folders?projectId=…&environment=…&path=/ (legacy: /api/v1/folders with
  // workspaceId). 404 "Environment with slug … not found" names `[infisical] environment`,
  // 404 "Project with ID … not found" names `[infisical] project_id`.
  Status probe_environment() override;

  // GET folders?…&path=PATH&recursive=true: each entry's relativePath, made absolute.
  Result<std::vector<std::string>> list_folders_recursive(const std::string& path) override;

  // Which route generation the server answered: "v4", "v3 (legacy routes)", or
  // "unknown" before the first secret or folder call.
  std::string server_generation() const;
  // Finds it out if still unknown (by listing "/", a read) and returns it.
  Result<std::string> detect_generation();

 private:
  AuthSession::Options session_options(Now now);
  // One machine-identity login: Universal Auth, or the cloud identity's request.
  Result<AuthSession::Token> identity_login();
  InfisicalLoginRequest universal_login_request() const;
  Result<AuthSession::Token> renew_token(const Secret& current);
  Result<AuthSession::Token> parse_token(HttpResponse& response, const char* what);
  Result<HttpResponse> auth_post(const char* path, const char* endpoint, Secret body);
  Result<HttpResponse> call(const char* method, const std::string& path_and_query,
                            const char* endpoint, const Secret& body, bool is_write);
  Error api_error(HttpResponse& response, const std::string& what);
  // A secret or folder call on the current routes, or on the legacy ones once the
  // server has shown it lacks the current ones. `build` makes path and body for a
  // generation (true = legacy).
  struct Route {
    std::string path_and_query;
    Secret body;
  };
  Result<HttpResponse> routed(const char* method, const char* endpoint, bool is_write,
                              const std::function<Route(bool legacy)>& build);
  // GET the secrets at `path` (with `recursive`, below it too): a 200 answer, or the error.
  Result<HttpResponse> get_secrets(const std::string& path, bool recursive);
  std::string api() const { return api_base_; }

  enum Generation : int { kUnknown = 0, kCurrent = 1, kLegacy = 2 };
  std::atomic<int> generation_{kUnknown};
  std::mutex probe_mu_;  // one request at a time until the generation is known

  HttpTransport& transport_;
  InfisicalEndpoint ep_;
  std::string api_base_;
  AuthSession session_;  // the identity's token: renewed, or logged in again
};

// Infisical trims leading/trailing whitespace and keeps one final newline; compare
// values after the same normalisation.
// Whether `stored` is what the server keeps when `sent` is written.
bool infisical_same_value(std::string_view sent, std::string_view stored);

}  // namespace eca

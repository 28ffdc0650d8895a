// FakeInfisical: an in-process Infisical server (the mid-2025 self-hosted build the
// transcripts in tests/data/infisical-transcripts were recorded from): Universal Auth
// machine identities, projects, environments, folders and the v3 "raw" secret
// routes, answering with the same status codes, error names, messages and fields.
//
// Endpoint names (for Fault::endpoint and the request log):
//   inf.login          POST /api/v1/auth/universal-auth/login, and the cloud-identity
//                      logins /api/v1/auth/{aws,gcp,azure,kubernetes,oidc,jwt}-auth/login
//                      (proofs checked by verify_cloud_login, fake_cloud.h)
//   inf.renew          POST /api/v1/auth/token/renew
//   inf.revoke         POST /api/v1/auth/token/revoke
//   inf.list           GET  /api/v3/secrets/raw
//   inf.list_recursive GET  /api/v3/secrets/raw?…&recursive=true (counted apart, so tests
//                      can tell one listing for many rotations from each rotation's own)
//   inf.get / inf.create / inf.update / inf.delete
//                      GET / POST / PATCH / DELETE /api/v3/secrets/raw/{name}
//   inf.batch_create / inf.upsert / inf.batch_delete
//                      POST / PATCH / DELETE /api/v3/secrets/batch/raw
//   inf.folder_create  POST /api/v1/folders (workspaceId) or /api/v2/folders (projectId)
//   inf.folder_list    GET  /api/v1/folders or /api/v2/folders
//   inf.folder_delete  DELETE /api/v1/folders/{name} or /api/v2/folders/{name}
//   inf.approval_policy POST /api/v1/secret-approvals (400: needs a licence, 154)
//   inf.other          any other route: 404 "Route METHOD:URL not found", no reqId
// Server generations: by default the fake serves both the current routes (/api/v4/secrets
// ..., body/query `projectId`; /api/v2/folders) and the deprecated ones (/api/v3/secrets/
// raw..., /api/v1/folders) through one implementation, under the same endpoint names.
// With `legacy_routes_only` it is the recorded mid-2025 build: the v4 and v2 routes are
// unknown routes (159-162).
// Admin routes (never faulted or logged): GET /__sandbox/secrets (every stored
// secret: path, name, value, version, metadata), POST /__sandbox/clock.
//
// Behaviour beyond the transcripts: values are trimmed like the server's schema
// does (one final newline survives); an upsert without `secretMetadata` keeps the
// stored list, with it replaces the list; lockout is on as in Infisical (3 failed
// logins within 30 s lock the identity for 300 s); approval policies and rate limits
// are off until configured; `${...}` secret references are not interpreted. Folder
// creation waits `folder_race_window` between looking and inserting (the real server's
// race, 132-147). A folder's `lastSecretModified` is set by the single-secret routes only,
// not by batch writes or seeding: inferred from 136, 147 and 156, not documented.
// Role checks cover secrets and folders only (read / create / edit / delete).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/sandbox/fake_clock.h"
#include "tests/sandbox/fake_cloud.h"
#include "tests/sandbox/fake_server.h"

namespace eca::sandbox {

using SecretMetadata = std::vector<std::pair<std::string, std::string>>;  // key, value

struct StoredSecret {
  std::string value;
  int version = 0;
  std::map<std::string, std::string> metadata;
  std::string comment;
};

// One write that stored something (approval answers store nothing).
struct WriteEvent {
  std::string endpoint;  // inf.create, inf.update, inf.upsert, ...
  std::string project_id;
  std::string environment;
  std::string path;
  std::vector<std::pair<std::string, std::string>> written;  // name, stored value
  std::vector<std::string> deleted;
};

// Infisical Cloud's per-client-IP limits (API reference, "Rate limiting"): every request
// counts against `global`, and against one category: the secret routes against `secret`,
// any other GET against `read`, any other write (login and renewal included) against
// `write`. Which category a route uses is set per route in the server's code; this split
// follows the route configs of the secret, folder and auth routers, but is inferred. Fixed
// windows on the sandbox clock, aligned to multiples of `window` since the epoch; over a
// limit: 429 RateLimitExceeded "Rate limit exceeded. Please try again in N seconds" (N to
// the end of the window) and, with `retry_after_header`, `retry-after: N`.
// 0 = no limit for that category.
struct InfisicalRateLimits {
  int global = 0;
  int read = 0;
  int write = 0;
  int secret = 0;
  // A minute on the real service; benchmarks shorten it to scale time down.
  std::chrono::milliseconds window{60000};
  bool retry_after_header = true;

  // The free plan of Infisical Cloud: 600 global, 200 read, 90 write, 120 secret per minute.
  static InfisicalRateLimits infisical_cloud_free() { return {600, 200, 90, 120}; }
  bool any() const { return global > 0 || read > 0 || write > 0 || secret > 0; }
};

struct LockoutPolicy {
  int max_failures = 3;  // 0 = never lock
  std::chrono::seconds window{30};
  std::chrono::seconds duration{300};
};

struct FakeInfisicalOptions {
  ServerOptions server;
  LockoutPolicy lockout;
  // Serve only /api/v3/secrets/raw and /api/v1/folders, like the recorded build.
  bool legacy_routes_only = false;
  // Folder creation is not atomic on the real server: it looks for the folders, then
  // inserts the missing ones. The fake waits this long in between (without its lock)
  // so that two parallel creates both insert, duplicating folders (132-147). 0 = atomic.
  std::chrono::milliseconds folder_race_window{20};
};

// A project member's role: admin (everything), the built-in viewer (reads only) or a
// custom role whose rules allow everything on secrets and folders of one environment,
// optionally under a `secretPath` glob such as "/apps/**".
struct RoleRule {
  std::string environment;
  std::string path_glob;  // empty: any path
};
struct ProjectRole {
  enum class Kind { Admin, Viewer, Custom } kind = Kind::Admin;
  std::vector<RoleRule> rules;  // Custom only
};

class FakeInfisical : public FakeServer {
 public:
  explicit FakeInfisical(FakeInfisicalOptions options = {},
                         std::shared_ptr<FakeClock> clock = nullptr,
                         std::shared_ptr<std::recursive_mutex> state_mutex = nullptr);
  ~FakeInfisical() override;

  // ---- setup
  void add_identity(const std::string& client_id, const std::string& client_secret,
                    std::chrono::seconds access_token_ttl = std::chrono::seconds(2592000),
                    std::chrono::seconds access_token_max_ttl = std::chrono::seconds(2592000));
  void add_project(const std::string& project_id, const std::string& slug,
                   const std::vector<std::string>& environments);
  void add_member(const std::string& project_id, const std::string& client_id,
                  ProjectRole role = {});
  // A folder (and its missing parents), as an earlier session would have left it.
  void put_folder(const std::string& project_id, const std::string& environment,
                  const std::string& path);
  void set_approval_required(const std::string& project_id, const std::string& environment,
                             const std::string& path, bool required);
  // At most `requests` requests per `window` (all /api routes together); 0 = off.
  void set_rate_limit(int requests, std::chrono::seconds window, bool send_retry_after_header);
  // Per-category limits (replaces set_rate_limit's); all 0 = off.
  void set_rate_limits(const InfisicalRateLimits& limits);
  // Requests answered 429 by the rate limits since the start.
  int rate_limited_count() const;
  void set_lockout(LockoutPolicy policy);
  // Lets the identity of `client_id` log in by `method` ("aws-auth", "gcp-auth", ...), with
  // proofs checked against `keys` (set once, shared by all methods).
  void add_cloud_auth(const std::string& client_id, const std::string& method);
  void set_cloud_keys(std::shared_ptr<const FakeCloudKeys> keys);
  // The identity's id (what a cloud-identity login names).
  std::string identity_id(const std::string& client_id) const;
  // As if something between the agent and Infisical rewrote a signed header of the
  // forwarded STS request (the Content-Type): the signature no longer matches.
  void set_tamper_aws_headers(bool tamper);
  void expire_all_tokens();

  // ---- inspection and seeding (no HTTP, no faults, no write observers)
  std::optional<StoredSecret> secret(const std::string& project_id, const std::string& environment,
                                     const std::string& path, const std::string& name) const;
  // Creates missing folders. For secrets "not written by eca-rotator".
  void put_secret(const std::string& project_id, const std::string& environment,
                  const std::string& path, const std::string& name, const std::string& value,
                  const SecretMetadata& metadata = {});
  // Every value ever stored under this name (after trimming), oldest first; kept
  // across deletes.
  std::vector<std::string> versions(const std::string& project_id, const std::string& environment,
                                    const std::string& path, const std::string& name) const;
  bool folder_exists(const std::string& project_id, const std::string& environment,
                     const std::string& path) const;
  // How many folders exist at this path: more than 1 after racing creates (132-147).
  int folder_copies(const std::string& project_id, const std::string& environment,
                    const std::string& path) const;
  // Write requests that stored something (a batch counts once).
  int write_count() const;
  // Requests answered 404 "Route ... not found" (unknown routes, and the v4/v2 routes
  // when serving the legacy generation only).
  int route_not_found_count() const;

  // Runs under the state lock after each write stored something.
  void on_write(std::function<void(const WriteEvent&)> observer);

 protected:
  std::string classify(const HttpRequest& request) const override;
  void handle(const HttpRequest& request, HttpResponse& response) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eca::sandbox

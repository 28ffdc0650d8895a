// Config: the agent's whole configuration, loaded from one TOML file plus
// conf.d/*.toml drop-ins, validated before anything is contacted.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/delivery_config.h"
#include "clients/request_budget.h"
#include "clients/salesforce_api.h"
#include "common/secret.h"

namespace eca {

enum class LogFormat { Text, Json };

// A wall-clock time of day, parsed once when the config is loaded.
struct TimeOfDay {
  int hour = 0;    // 0-23
  int minute = 0;  // 0-59
  // "HH:MM" (24 h) or nullopt.
  static std::optional<TimeOfDay> parse(std::string_view hhmm);
  std::string text() const;  // "03:00"
  friend bool operator==(const TimeOfDay&, const TimeOfDay&) = default;
};
enum class EncryptionMode { SealedBox, None };

struct AgentSettings {
  std::filesystem::path state_dir = "/var/lib/eca-rotator";
  int concurrency = 4;
  LogFormat log_format = LogFormat::Text;
  std::string timezone = "local";  // "local", "UTC" or an IANA zone name
  int stale_staged_minutes =
      60;                      // an unknown Active staged credential older than this is abandoned
  int splay_minutes = 0;       // spread scheduled rotations over [rotate_at, rotate_at + splay)
  std::string metrics_listen;  // "127.0.0.1:9464": /metrics and /healthz (daemon); empty = off
  std::filesystem::path metrics_file;  // node_exporter textfile, rewritten atomically; empty = off
  std::string on_success;              // shell command run after each successful rotation
  std::string on_failure;              // shell command run after each failed rotation attempt
  int hook_timeout_seconds = 30;
  std::string proxy;     // proxy URL, may hold "user:password@"; never print it as is
  std::string no_proxy;  // hosts reached directly; empty with proxy empty = environment
};

struct InfisicalSettings {
  std::string url;  // site address; "/api" is appended by the client if missing
  std::string project_id;
  std::string environment;            // environment slug
  std::string ca_file;                // optional PEM bundle for a private CA
  std::string ca_dir;                 // optional directory of hashed PEM CA certificates
  std::string pinned_public_key;      // optional "sha256//BASE64[;...]"
  bool insecure_skip_verify = false;  // accepted only for a loopback url (with a warning)
  // "universal-auth" (client id + secret), or a login by cloud identity with no secret on
  // the VM: "aws-iam", "gcp-id-token", "azure", "kubernetes", "oidc", "jwt".
  std::string auth_method = "universal-auth";
  std::string client_id;
  Secret client_secret;  // from client_secret, client_secret_file or $CREDENTIALS_DIRECTORY
  // Requests per minute the agent allows itself (rate_limits; see infisical_limits.h).
  RateLimits rate_limits;
  std::string identity_id;   // cloud methods: the machine identity's id
  std::string region;        // aws-iam: empty = $AWS_REGION or the instance identity document
  std::string metadata_url;  // aws-iam, gcp-id-token, azure: empty = the cloud's address
  std::string resource;      // azure: audience of the managed identity token (empty = ARM)
  std::string token_file;    // kubernetes (empty = the pod's), oidc, jwt
};

struct EncryptionSettings {
  EncryptionMode mode = EncryptionMode::SealedBox;
  // base64 X25519 public keys (32 bytes) when mode = sealed-box: recipient_public_key first,
  // then recipient_public_keys in order (drop-ins append). Each value carries one box each.
  std::vector<std::string> recipient_public_keys;
};

struct ConnectionSettings {
  std::string name;
  std::string my_domain_url;  // https://<domain>.my.salesforce.com (validated)
  std::string api_version = "v65.0";
  std::string client_id;  // consumer key of the connection's own ECA
  SfAuthMethod auth = SfAuthMethod::ClientCredentials;
  Secret client_secret;    // client credentials only
  std::string username;    // jwt_bearer: the user the agent acts as
  std::string audience;    // jwt_bearer: empty = by host (with one My Domain retry)
  Secret private_key_pem;  // jwt_bearer: from private_key_file or $CREDENTIALS_DIRECTORY
  std::string ca_file;
  std::string ca_dir;
  std::string pinned_public_key;
  bool insecure_skip_verify = false;  // accepted only for a loopback my_domain_url
  // The share (0..90 %) of the org's daily API request maximum (DailyApiRequests) the agent
  // leaves to the org's other integrations: rotations that would dip into it wait a day.
  int api_reserve_percent = 10;
};

struct RotationSettings {
  std::string name;  // slug: [a-z0-9][a-z0-9-]{0,62}
  std::string description;
  std::string connection;   // key into Config::connections
  std::string app_id;       // 0xI... (15 or 18 chars)
  std::string consumer_id;  // optional; empty = first consumer, with a warning if several
  int interval_days = 30;
  TimeOfDay rotate_at;  // local time (or [agent] timezone)
  // Where in [agent] splay_minutes this rotation's scheduled start falls: derived from the
  // name alone, so every agent sharing a config picks the same instant.
  std::chrono::seconds splay{0};
  bool auto_rotation = true;
  std::string secret_path = "/";
  std::string consumer_key_secret = "SALESFORCE_CONSUMER_KEY";
  std::string consumer_secret_secret = "SALESFORCE_CONSUMER_SECRET";
  bool adopt = false;  // take over existing secrets not written by eca-rotator
  std::string source;  // "file:line" where the [[rotation]] was defined
};

struct Config {
  std::filesystem::path main_file;
  std::vector<std::filesystem::path> files;  // main file then drop-ins, in the order read
  AgentSettings agent;
  InfisicalSettings infisical;
  EncryptionSettings encryption;
  std::map<std::string, ConnectionSettings> connections;
  std::vector<RotationSettings> rotations;
  std::vector<DeliverySettings> deliveries;  // [[deliver]]: the consumer side
  std::vector<std::string> warnings;         // non-fatal findings, printed by the caller

  const RotationSettings* find_rotation(const std::string& name) const;
};

// The offset of a rotation's scheduled start inside a splay window of `splay_minutes`:
// uniform over the window and a function of the name alone.
std::chrono::seconds splay_offset(std::string_view rotation_name, int splay_minutes);

struct ConfigError {
  std::string file;
  int line = 0;     // 0 when not tied to a line
  std::string key;  // dotted path, e.g. "rotation[2].interval_days"
  std::string message;
  int column = 0;                 // added: set for TOML syntax errors ("file:line:column: ...")
  std::string to_string() const;  // "agent.toml:12: rotation[2].interval_days: must be >= 1"
};

struct ConfigLoadResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;  // all problems found, not just the first
};

// Relative paths (state_dir, ca_file, ca_dir, *_file) are resolved against the main
// file's directory. Loading never throws; warnings are only returned with a
// valid config.
// Environment lookup is injectable so tests need not touch the process environment.
using EnvLookup = std::optional<std::string> (*)(const std::string& name);
std::optional<std::string> process_env(const std::string& name);

ConfigLoadResult load_config(const std::filesystem::path& main_file, EnvLookup env = process_env);

}  // namespace eca

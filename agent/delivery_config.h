// Deliveries: `[[deliver]]` sections, the consumer side. Each one names where a sealed
// pair lives in Infisical (a [[rotation]] of the same config, or a project, environment,
// folder and two secret names), the private key that opens it, and the file it is
// written to for an application that cannot read Infisical itself.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/secret.h"

namespace eca {

struct MergedNode;
struct ConfigError;

enum class DeliveryFormat { Env, Json, Properties, Template };

struct DeliverySettings {
  std::string name;      // slug; names the metrics series and the hook's env
  std::string rotation;  // source: a [[rotation]] of this config, or empty
  // The place: copied from the rotation, or given (project/environment default to [infisical]).
  std::string project_id;
  std::string environment;
  std::string secret_path = "/";
  std::string consumer_key_secret = "SALESFORCE_CONSUMER_KEY";
  std::string consumer_secret_secret = "SALESFORCE_CONSUMER_SECRET";
  bool sealed = true;              // false: the source publishes plain values (mode = "none")
  Secret private_key;              // base64 X25519 private key (empty when !sealed)
  std::string private_key_source;  // the file or credential it came from, for messages
  std::filesystem::path path;      // output file
  DeliveryFormat format = DeliveryFormat::Env;
  std::filesystem::path template_file;
  std::string template_text;  // read at load time: placeholders checked once
  std::string key_variable = "SALESFORCE_CONSUMER_KEY";  // env/properties/json names, exec
  std::string secret_variable = "SALESFORCE_CONSUMER_SECRET";
  bool chown = false;                  // owner or group set
  uid_t uid = static_cast<uid_t>(-1);  // -1 = leave as created
  gid_t gid = static_cast<gid_t>(-1);
  mode_t mode = 0600;
  std::vector<std::string> on_change;  // argv; no shell unless argv[0] is one
  int debounce_seconds = 5;            // changes closer than this run the hook once
  int splay_seconds = 0;               // plus a random delay in [0, splay) per run
  int poll_seconds = 60;
  // The source's rotation interval and the share of it a delivery may lag before /healthz
  // fails: a consumer still on the previous pair at the next rotation is cut off.
  int source_interval_days = 30;
  double max_lag_share = 0.5;
  std::string source;  // "file:line" of the [[deliver]]
};

// What the loader hands to load_deliveries: the parts of the config a delivery refers to.
struct DeliveryContext {
  std::filesystem::path base_dir;  // relative paths resolve against it
  std::string default_project_id;
  std::string default_environment;
  bool sealed_by_default = true;  // [encryption] mode
  struct RotationPlace {
    std::string name, secret_path, key_secret, secret_secret;
    int interval_days = 30;
  };
  std::vector<RotationPlace> rotations;
  std::optional<std::string> (*env)(const std::string&) = nullptr;
};

// Parses the `deliver` array of the merged config. Problems go to `errors`, each naming
// its file, line and key.
std::vector<DeliverySettings> load_deliveries(const MergedNode& list, const DeliveryContext& ctx,
                                              std::vector<ConfigError>& errors,
                                              std::vector<std::string>& warnings);

// "/run/eca-rotator" under systemd's RuntimeDirectory= ($RUNTIME_DIRECTORY), where an
// output path without a directory goes.
std::filesystem::path default_delivery_dir(std::optional<std::string> (*env)(const std::string&));

}  // namespace eca

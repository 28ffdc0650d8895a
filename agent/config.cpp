// Configuration loader: parse the main file and conf.d drop-ins (config_merge),
// expand ${VAR} references inside string values (env_expand), validate every key
// (config_rules) and collect every problem with its file, line and key.
#include "agent/config.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "agent/config_merge.h"
#include "agent/config_rules.h"
#include "agent/env_expand.h"
#include "agent/infisical_limits.h"
#include "crypto/envelope.h"
#include "crypto/key_pair.h"
#include "crypto/rsa_signer.h"

namespace eca {
namespace {

namespace cr = config_rules;

constexpr std::size_t kMaxSecretFileSize = 64 * 1024;

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string dq(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string one_of(const std::vector<std::string>& allowed) {
  std::string s;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i) s += i + 1 == allowed.size() ? " or " : ", ";
    s += dq(allowed[i]);
  }
  return s;
}

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// A table of the merged tree together with its dotted name. `node` is null when
// the section is absent; `broken` when it exists with the wrong type (already
// reported, so required keys are not reported missing on top).
struct Section {
  const MergedNode* node = nullptr;
  std::string prefix;
  bool broken = false;
  const MergedNode* find(const std::string& key) const { return node ? node->find(key) : nullptr; }
};

enum class Need { Optional, Required };

class Loader {
 public:
  Loader(const std::filesystem::path& main_file, EnvLookup env)
      : main_file_(main_file), base_dir_(main_file.parent_path()), env_(env) {}

  ConfigLoadResult run();

 private:
  // --- reporting ---------------------------------------------------------
  void error_at(const ConfigDocument* doc, int line, std::string key, std::string message) {
    errors_.push_back(
        {doc ? doc->path : main_file_.string(), line, std::move(key), std::move(message)});
  }
  void error(const MergedNode& n, std::string key, std::string message) {
    error_at(n.doc, n.line(), std::move(key), std::move(message));
  }
  void warn_at(const ConfigDocument* doc, int line, std::string key, std::string message) {
    ConfigError w{doc ? doc->path : main_file_.string(), line, std::move(key), std::move(message)};
    cfg_.warnings.push_back(w.to_string());
  }
  void missing(const Section& s, const std::string& key, const std::string& hint = "") {
    if (s.broken) return;
    std::string msg = "required key is missing";
    if (!s.node) msg += " (no [" + s.prefix + "] section)";
    if (!hint.empty()) msg += "; " + hint;
    if (s.node)
      error(*s.node, join(s.prefix, key), msg);
    else
      error_at(nullptr, 0, join(s.prefix, key), msg);
  }

  // --- typed access ------------------------------------------------------
  Section section(const Section& parent, const std::string& key);
  void check_keys(const Section& s, const std::vector<std::string>& known);
  std::optional<std::string> str(const Section& s, const std::string& key, Need need);
  std::optional<std::int64_t> integer(const Section& s, const std::string& key, std::int64_t lo,
                                      std::int64_t hi);
  std::optional<bool> boolean(const Section& s, const std::string& key);
  std::optional<std::string> choice(const Section& s, const std::string& key,
                                    const std::vector<std::string>& allowed);
  std::filesystem::path resolve(const std::string& p) const {
    std::filesystem::path path(p);
    return path.is_absolute() ? path : base_dir_ / path;
  }
  std::optional<std::string> readable_file(const Section& s, const std::string& key);
  std::optional<std::string> readable_dir(const Section& s, const std::string& key);
  enum class PathKind { File, Directory };
  std::optional<std::string> readable_path(const Section& s, const std::string& key, PathKind kind);
  // ca_file, ca_dir, pinned_public_key and insecure_skip_verify of a service whose
  // (validated) address is `url` (empty when invalid: then only syntax is checked).
  void load_tls(const Section& s, const std::string& url, std::string& ca_file, std::string& ca_dir,
                std::string& pinned_public_key, bool& insecure_skip_verify);
  std::optional<Secret> client_secret(const Section& s, const std::string& credential_name);
  // private_only: readable by others is an error, not a warning (a private key).
  std::optional<Secret> read_secret_file(const std::filesystem::path& path,
                                         const ConfigDocument* doc, int line,
                                         const std::string& key, bool private_only = false);
  void load_connection_auth(const Section& s, ConnectionSettings& c);
  std::optional<Secret> private_key(const Section& s, const std::string& credential_name);

  // --- sections ----------------------------------------------------------
  void load_agent(const Section& root);
  void load_infisical(const Section& root);
  void load_rate_limits(const Section& s, InfisicalSettings& inf);
  void load_infisical_auth(const Section& auth);
  void load_cloud_identity(const Section& auth);
  void load_encryption(const Section& root);
  void load_recipients(const Section& s, Need need);
  void load_metrics_listen(const Section& s);
  void load_proxy(const Section& s);
  void load_connections(const Section& root);
  void load_rotations(const Section& root);
  void load_deliveries(const MergedNode& list);  // the rules live in delivery_config.cpp
  struct RotationClaims;
  void load_rotation(const Section& s, RotationClaims& claims);
  void load_rotation_target(const Section& s, RotationSettings& r, RotationClaims& claims);
  void load_rotation_schedule(const Section& s, RotationSettings& r);
  bool load_rotation_place(const Section& s, RotationSettings& r);
  void check_rotation_claims(const Section& s, const RotationSettings& r, bool place_ok,
                             RotationClaims& claims);
  void check_target_claims(const Section& s, const RotationSettings& r, RotationClaims& claims);

  std::filesystem::path main_file_;
  std::filesystem::path base_dir_;
  EnvLookup env_;
  Config cfg_;
  std::vector<ConfigError> errors_;
  const MergedNode* connections_node_ = nullptr;
};

Section Loader::section(const Section& parent, const std::string& key) {
  Section s;
  s.prefix = join(parent.prefix, key);
  s.broken = parent.broken;
  const MergedNode* n = parent.find(key);
  if (!n) return s;
  if (!n->node->is_table()) {
    error(*n, s.prefix, std::string("expected a table, got ") + type_name(*n->node));
    s.broken = true;
    return s;
  }
  s.node = n;
  return s;
}

void Loader::check_keys(const Section& s, const std::vector<std::string>& known) {
  if (!s.node) return;
  for (const auto& [key, member] : s.node->members) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string msg = "unknown key";
    std::string hint = cr::suggest(key, known);
    if (!hint.empty())
      msg += " (did you mean \"" + hint + "\"?)";
    else
      msg += "; known keys: " + one_of(known);
    error_at(member.doc, member.key_line, join(s.prefix, key), msg);
  }
}

std::optional<std::string> Loader::str(const Section& s, const std::string& key, Need need) {
  const MergedNode* n = s.find(key);
  std::string name = join(s.prefix, key);
  if (!n) {
    if (need == Need::Required) missing(s, key);
    return std::nullopt;
  }
  const auto* v = n->node->as_string();
  if (!v) {
    error(*n, name, std::string("expected a string, got ") + type_name(*n->node));
    return std::nullopt;
  }
  std::string out, why;
  if (!expand_env(v->get(), env_, out, why)) {
    error(*n, name, why);
    return std::nullopt;
  }
  if (need == Need::Required && out.empty()) {
    error(*n, name, "must not be empty");
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> Loader::integer(const Section& s, const std::string& key,
                                            std::int64_t lo, std::int64_t hi) {
  const MergedNode* n = s.find(key);
  if (!n) return std::nullopt;
  std::string name = join(s.prefix, key);
  const auto* v = n->node->as_integer();
  if (!v) {
    error(*n, name, std::string("expected an integer, got ") + type_name(*n->node));
    return std::nullopt;
  }
  std::int64_t x = v->get();
  if (x < lo || x > hi) {
    error(*n, name,
          "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " +
              std::to_string(x) + ")");
    return std::nullopt;
  }
  return x;
}

std::optional<bool> Loader::boolean(const Section& s, const std::string& key) {
  const MergedNode* n = s.find(key);
  if (!n) return std::nullopt;
  const auto* v = n->node->as_boolean();
  if (!v) {
    error(*n, join(s.prefix, key),
          std::string("expected a boolean (true or false), got ") + type_name(*n->node));
    return std::nullopt;
  }
  return v->get();
}

std::optional<std::string> Loader::choice(const Section& s, const std::string& key,
                                          const std::vector<std::string>& allowed) {
  auto v = str(s, key, Need::Optional);
  if (!v) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *v) != allowed.end()) return v;
  std::string msg = "must be " + one_of(allowed) + " (got " + dq(*v) + ")";
  std::string hint = cr::suggest(*v, allowed);
  if (!hint.empty()) msg += "; did you mean \"" + hint + "\"?";
  error(*s.find(key), join(s.prefix, key), msg);
  return std::nullopt;
}

std::optional<std::string> Loader::readable_file(const Section& s, const std::string& key) {
  return readable_path(s, key, PathKind::File);
}

std::optional<std::string> Loader::readable_dir(const Section& s, const std::string& key) {
  return readable_path(s, key, PathKind::Directory);
}

std::optional<std::string> Loader::readable_path(const Section& s, const std::string& key,
                                                 PathKind kind) {
  auto v = str(s, key, Need::Optional);
  if (!v) return std::nullopt;
  const MergedNode* n = s.find(key);
  if (v->empty()) {
    error(*n, join(s.prefix, key), "must not be empty (remove the key instead)");
    return std::nullopt;
  }
  std::filesystem::path p = resolve(*v);
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    error(*n, join(s.prefix, key), "cannot access " + p.string() + ": " + std::strerror(errno));
    return std::nullopt;
  }
  const bool dir = kind == PathKind::Directory;
  if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    error(*n, join(s.prefix, key),
          p.string() + (dir ? " is not a directory (for a single PEM bundle use ca_file)"
                            : " is not a regular file"));
    return std::nullopt;
  }
  if (::access(p.c_str(), dir ? R_OK | X_OK : R_OK) != 0) {
    error(*n, join(s.prefix, key), "cannot read " + p.string() + ": " + std::strerror(errno));
    return std::nullopt;
  }
  return p.string();
}

void Loader::load_tls(const Section& s, const std::string& url, std::string& ca_file,
                      std::string& ca_dir, std::string& pinned_public_key,
                      bool& insecure_skip_verify) {
  if (auto v = readable_file(s, "ca_file")) ca_file = *v;
  if (auto v = readable_dir(s, "ca_dir")) ca_dir = *v;
  if (auto v = str(s, "pinned_public_key", Need::Optional)) {
    std::string why = cr::check_pinned_public_key(*v);
    if (why.empty())
      pinned_public_key = *v;
    else
      error(*s.find("pinned_public_key"), join(s.prefix, "pinned_public_key"), why);
  }
  auto insecure = boolean(s, "insecure_skip_verify");
  if (!insecure || !*insecure || url.empty()) return;
  const MergedNode* n = s.find("insecure_skip_verify");
  const std::string key = join(s.prefix, "insecure_skip_verify");
  std::string why;
  auto parsed = cr::parse_url(url, why);
  if (!parsed || !cr::is_loopback_host(parsed->host)) {
    error(*n, key,
          "true is only allowed when the service's address is loopback (127.0.0.0/8, localhost, "
          "::1); to trust a private CA set ca_file or ca_dir (and pin its key with "
          "pinned_public_key if you like) instead");
    return;
  }
  insecure_skip_verify = true;
  warn_at(
      n->doc, n->line(), key,
      "TLS certificate verification is off for " + url +
          " (allowed because it is loopback); for anything but a local test server use ca_file or "
          "ca_dir");
}

std::optional<Secret> Loader::read_secret_file(const std::filesystem::path& path,
                                               const ConfigDocument* doc, int line,
                                               const std::string& key, bool private_only) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    error_at(doc, line, key,
             "cannot open secret file " + path.string() + ": " + std::strerror(errno));
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error_at(doc, line, key, "secret file " + path.string() + " is not a regular file");
    return std::nullopt;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    ::close(fd);
    error_at(doc, line, key,
             "secret file " + path.string() + " is writable by group or others (mode " +
                 octal_mode(st.st_mode) + "); run chmod go-w on it");
    return std::nullopt;
  }
  if ((st.st_mode & S_IROTH) != 0 && private_only) {
    ::close(fd);
    error_at(doc, line, key,
             "key file " + path.string() + " is readable by others (mode " +
                 octal_mode(st.st_mode) +
                 "); run chmod o-r on it (0600, or 0640 with group eca-rotator)");
    return std::nullopt;
  }
  if ((st.st_mode & S_IROTH) != 0) {
    warn_at(doc, line, key,
            "secret file " + path.string() + " is readable by others (mode " +
                octal_mode(st.st_mode) + "); run chmod o-r on it");
  }
  Secret value;
  char buf[4096];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_at(doc, line, key,
               "cannot read secret file " + path.string() + ": " + std::strerror(errno));
      ok = false;
      break;
    }
    if (n == 0) break;
    value.append(std::string_view(buf, static_cast<std::size_t>(n)));
    if (value.size() > kMaxSecretFileSize) {
      error_at(doc, line, key, "secret file " + path.string() + " is too large (over 64 KiB)");
      ok = false;
      break;
    }
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  if (!ok) return std::nullopt;
  std::size_t len = value.size();
  while (len > 0 && (value.view()[len - 1] == '\n' || value.view()[len - 1] == '\r')) --len;
  value.truncate(len);
  if (value.empty()) {
    error_at(doc, line, key, "secret file " + path.string() + " is empty");
    return std::nullopt;
  }
  return value;
}

// client_secret (inline), client_secret_file, or $CREDENTIALS_DIRECTORY/<credential_name>.
std::optional<Secret> Loader::client_secret(const Section& s, const std::string& credential_name) {
  const MergedNode* inl = s.find("client_secret");
  const MergedNode* file = s.find("client_secret_file");
  const std::string inline_key = join(s.prefix, "client_secret");
  const std::string file_key = join(s.prefix, "client_secret_file");
  if (inl && file) {
    const MergedNode& later = inl->line() > file->line() && inl->doc == file->doc ? *inl : *file;
    error(later, join(s.prefix, "client_secret"),
          "set either client_secret or client_secret_file, not both (other one at " +
              (&later == inl ? file : inl)->doc->path + ":" +
              std::to_string((&later == inl ? file : inl)->line()) + ")");
    return std::nullopt;
  }
  if (inl) {
    const auto* v = inl->node->as_string();
    if (!v) {
      error(*inl, inline_key, std::string("expected a string, got ") + type_name(*inl->node));
      return std::nullopt;
    }
    std::string expanded, why;
    if (!expand_env(v->get(), env_, expanded, why)) {
      error(*inl, inline_key, why);
      return std::nullopt;
    }
    Secret secret(expanded);
    wipe_string(expanded);
    if (secret.empty()) {
      error(*inl, inline_key, "must not be empty");
      return std::nullopt;
    }
    if (!is_pure_reference(v->get())) {
      struct stat st {};
      if (::stat(inl->doc->path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
        warn_at(inl->doc, inl->line(), inline_key,
                "an inline secret in a file readable by group or others (mode " +
                    octal_mode(st.st_mode) +
                    "); consider client_secret_file or LoadCredential=" + credential_name);
      }
    }
    return secret;
  }
  if (file) {
    auto p = str(s, "client_secret_file", Need::Required);
    if (!p) return std::nullopt;
    return read_secret_file(resolve(*p), file->doc, file->line(), file_key);
  }
  if (auto dir = env_("CREDENTIALS_DIRECTORY"); dir && !dir->empty()) {
    std::filesystem::path p = std::filesystem::path(*dir) / credential_name;
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) {
      const ConfigDocument* doc = s.node ? s.node->doc : nullptr;
      int line = s.node ? s.node->line() : 0;
      return read_secret_file(p, doc, line, inline_key);
    }
  }
  missing(s, "client_secret",
          "set client_secret_file (or client_secret), or pass the systemd credential \"" +
              credential_name + "\" with LoadCredential=");
  return std::nullopt;
}

void Loader::load_agent(const Section& root) {
  Section s = section(root, "agent");
  check_keys(s, {"state_dir", "concurrency", "log_format", "timezone", "stale_staged_minutes",
                 "splay_minutes", "metrics_listen", "metrics_file", "on_success", "on_failure",
                 "hook_timeout_seconds", "proxy", "no_proxy"});
  auto& a = cfg_.agent;
  if (s.find("state_dir")) {
    if (auto v = str(s, "state_dir", Need::Required)) a.state_dir = resolve(*v);
  }
  if (auto v = integer(s, "concurrency", 1, 256)) a.concurrency = static_cast<int>(*v);
  if (auto v = choice(s, "log_format", {"text", "json"}))
    a.log_format = *v == "json" ? LogFormat::Json : LogFormat::Text;
  if (auto v = str(s, "timezone", Need::Optional)) {
    std::string zoneinfo = "/usr/share/zoneinfo";
    if (auto d = env_("TZDIR"); d && !d->empty()) zoneinfo = *d;
    std::string why = cr::check_timezone(*v, zoneinfo);
    if (why.empty())
      a.timezone = *v;
    else
      error(*s.find("timezone"), "agent.timezone", why);
  }
  if (auto v = integer(s, "stale_staged_minutes", 1, 525600))
    a.stale_staged_minutes = static_cast<int>(*v);
  if (auto v = integer(s, "splay_minutes", 0, 1440)) a.splay_minutes = static_cast<int>(*v);
  load_metrics_listen(s);
  if (auto v = str(s, "metrics_file", Need::Optional)) a.metrics_file = resolve(*v);
  if (auto v = str(s, "on_success", Need::Optional)) a.on_success = *v;
  if (auto v = str(s, "on_failure", Need::Optional)) a.on_failure = *v;
  if (auto v = integer(s, "hook_timeout_seconds", 1, 3600))
    a.hook_timeout_seconds = static_cast<int>(*v);
  load_proxy(s);
}

void Loader::load_metrics_listen(const Section& s) {
  auto& a = cfg_.agent;
  if (auto v = str(s, "metrics_listen", Need::Optional)) {
    // Metrics name every rotation and app: keep them on loopback unless asked otherwise.
    auto colon = v->rfind(':');
    bool port_ok = colon != std::string::npos && colon + 1 < v->size() &&
                   v->find_first_not_of("0123456789", colon + 1) == std::string::npos;
    if (!port_ok) {
      error(*s.find("metrics_listen"), "agent.metrics_listen",
            "must be HOST:PORT with a numeric port, e.g. \"127.0.0.1:9464\"");
    } else {
      a.metrics_listen = *v;
      std::string host = v->substr(0, colon);
      if (host != "127.0.0.1" && host != "[::1]" && host.rfind("127.", 0) != 0) {
        cfg_.warnings.push_back("agent.metrics_listen " + *v +
                                " is not a loopback address: metrics will be reachable from "
                                "the network");
      }
    }
  }
}

void Loader::load_proxy(const Section& s) {
  auto& a = cfg_.agent;
  if (auto v = str(s, "proxy", Need::Optional); v && !v->empty()) {
    // The value may hold a password: messages never repeat it.
    std::string why = cr::check_proxy_url(*v);
    if (why.empty())
      a.proxy = *v;
    else
      error(*s.find("proxy"), "agent.proxy", why);
    wipe_string(*v);
  }
  if (auto v = str(s, "no_proxy", Need::Optional)) {
    if (std::any_of(v->begin(), v->end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      error(*s.find("no_proxy"), "agent.no_proxy", "must not contain control characters");
    else
      a.no_proxy = *v;
  }
}

void Loader::load_infisical(const Section& root) {
  Section s = section(root, "infisical");
  check_keys(s, {"url", "project_id", "environment", "ca_file", "ca_dir", "pinned_public_key",
                 "insecure_skip_verify", "auth", "rate_limits"});
  auto& inf = cfg_.infisical;
  if (auto v = str(s, "url", Need::Required)) {
    std::string normalized;
    std::string why = cr::check_infisical_url(*v, normalized);
    if (why.empty())
      inf.url = normalized;
    else
      error(*s.find("url"), "infisical.url", why);
  }
  if (auto v = str(s, "project_id", Need::Required)) {
    if (std::all_of(v->begin(), v->end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }))
      inf.project_id = *v;
    else
      error(*s.find("project_id"), "infisical.project_id",
            "may only contain letters, digits and '-' (a project id such as a UUID)");
  }
  if (auto v = str(s, "environment", Need::Required)) {
    bool ok = v->size() <= 64 &&
              (std::islower(static_cast<unsigned char>((*v)[0])) ||
               std::isdigit(static_cast<unsigned char>((*v)[0]))) &&
              std::all_of(v->begin(), v->end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
              });
    if (ok)
      inf.environment = *v;
    else
      error(
          *s.find("environment"), "infisical.environment",
          "must be an environment slug (lowercase letters, digits, '-', '_'), e.g. \"prod\" (got " +
              dq(*v) + ")");
  }
  load_tls(s, inf.url, inf.ca_file, inf.ca_dir, inf.pinned_public_key, inf.insecure_skip_verify);
  load_rate_limits(s, inf);

  load_infisical_auth(section(s, "auth"));
}

// Infisical's own route names are accepted too ("aws-auth" for "aws-iam", ...).
std::optional<std::string> canonical_auth_method(const std::string& m) {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"universal-auth", "universal-auth"},
      {"universal", "universal-auth"},
      {"aws-iam", "aws-iam"},
      {"aws-auth", "aws-iam"},
      {"gcp-id-token", "gcp-id-token"},
      {"azure", "azure"},
      {"azure-auth", "azure"},
      {"kubernetes", "kubernetes"},
      {"kubernetes-auth", "kubernetes"},
      {"oidc", "oidc"},
      {"oidc-auth", "oidc"},
      {"jwt", "jwt"},
      {"jwt-auth", "jwt"}};
  for (const auto& [alias, name] : names) {
    if (m == alias) return name;
  }
  return std::nullopt;
}

void Loader::load_infisical_auth(const Section& auth) {
  auto& inf = cfg_.infisical;
  check_keys(auth, {"method", "client_id", "client_secret", "client_secret_file", "identity_id",
                    "region", "metadata_url", "resource", "token_file"});
  if (auto m = str(auth, "method", Need::Optional)) {
    auto name = canonical_auth_method(*m);
    if (!name) {
      static const std::vector<std::string> all = {
          "universal-auth", "aws-iam", "gcp-id-token", "azure", "kubernetes", "oidc", "jwt"};
      std::string hint = cr::suggest(*m, all);
      std::string why = *m == "gcp-auth" || *m == "gcp-iam"
                            ? "GCP logins use \"gcp-id-token\" (the IAM variant is not supported)"
                            : "supported: " + one_of(all);
      error(*auth.find("method"), "infisical.auth.method",
            "unknown or unsupported method " + dq(*m) + "; " + why +
                (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)"));
      return;
    }
    inf.auth_method = *name;
  } else if (auth.find("method")) {
    return;  // already reported
  }
  if (inf.auth_method != "universal-auth") return load_cloud_identity(auth);
  for (const char* key : {"identity_id", "region", "metadata_url", "resource", "token_file"}) {
    if (const MergedNode* n = auth.find(key)) {
      error(*n, join(auth.prefix, key),
            "only used by a cloud identity method (method = \"aws-iam\", \"gcp-id-token\", "
            "\"azure\", \"kubernetes\", \"oidc\" or \"jwt\"); universal-auth uses client_id and "
            "client_secret");
    }
  }
  if (auto v = str(auth, "client_id", Need::Required)) {
    if (has_control_or_space(*v))
      error(*auth.find("client_id"), "infisical.auth.client_id",
            "must not contain spaces or control characters");
    else
      inf.client_id = *v;
  }
  if (auto secret = client_secret(auth, "infisical-client-secret"))
    inf.client_secret = std::move(*secret);
}

// A preset name or a table of numbers; absent: the Infisical Cloud preset for its hosts,
// none for a self-hosted server (which enforces none unless its operator adds a limiter).
void Loader::load_rate_limits(const Section& s, InfisicalSettings& inf) {
  inf.rate_limits = default_infisical_rate_limits(inf.url);
  const MergedNode* n = s.find("rate_limits");
  if (!n) return;
  if (n->node->is_string()) {
    auto v = choice(s, "rate_limits", {"infisical-cloud", "none"});
    if (v) inf.rate_limits = *v == "none" ? RateLimits{} : RateLimits::infisical_cloud();
    return;
  }
  Section t = section(s, "rate_limits");
  if (t.broken) return;
  check_keys(t, {"global", "read", "write", "secret"});
  RateLimits limits;
  const std::int64_t most = 1000000;
  if (auto v = integer(t, "global", 0, most)) limits.global = static_cast<int>(*v);
  if (auto v = integer(t, "read", 0, most)) limits.read = static_cast<int>(*v);
  if (auto v = integer(t, "write", 0, most)) limits.write = static_cast<int>(*v);
  if (auto v = integer(t, "secret", 0, most)) limits.secret = static_cast<int>(*v);
  inf.rate_limits = limits;
}

// A cloud identity: the identity's id and the method's own settings; no secret at all.
void Loader::load_cloud_identity(const Section& auth) {
  auto& inf = cfg_.infisical;
  const std::string& m = inf.auth_method;
  auto not_here = [&](const char* key, const std::string& why) {
    if (const MergedNode* n = auth.find(key)) error(*n, join(auth.prefix, key), why);
  };
  for (const char* key : {"client_id", "client_secret", "client_secret_file"}) {
    not_here(key, "not used with method = " + dq(m) +
                      " (the VM proves its identity, it holds no secret); remove it");
  }
  if (auto v = str(auth, "identity_id", Need::Required)) {
    if (v->empty() || !std::all_of(v->begin(), v->end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        }))
      error(*auth.find("identity_id"), "infisical.auth.identity_id",
            "must be the machine identity's id (a UUID: Access Control > Identities in Infisical)");
    else
      inf.identity_id = *v;
  }
  const bool aws = m == "aws-iam", metadata = aws || m == "gcp-id-token" || m == "azure";
  if (!aws) not_here("region", "only used with method = \"aws-iam\"");
  if (m != "azure") not_here("resource", "only used with method = \"azure\"");
  if (!metadata) not_here("metadata_url", "only used with aws-iam, gcp-id-token and azure");
  if (metadata) not_here("token_file", "only used with kubernetes, oidc and jwt");
  if (auto v = str(auth, "region", Need::Optional); v && aws) {
    if (v->empty() || !std::all_of(v->begin(), v->end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        }))
      error(*auth.find("region"), "infisical.auth.region",
            "must be an AWS region such as \"eu-west-1\"");
    else
      inf.region = *v;
  }
  if (auto v = str(auth, "metadata_url", Need::Optional); v && metadata) {
    if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
      error(
          *auth.find("metadata_url"), "infisical.auth.metadata_url",
          "must be an http:// URL such as \"http://169.254.169.254\" (for tests: a loopback one)");
    else
      inf.metadata_url = *v;
  }
  if (auto v = str(auth, "resource", Need::Optional); v && m == "azure") inf.resource = *v;
  if (m == "oidc" || m == "jwt") {
    if (auto v = readable_file(auth, "token_file"))
      inf.token_file = *v;
    else if (!auth.find("token_file"))
      missing(auth, "token_file",
              "the file your workload identity helper keeps the current token in");
  } else if (m == "kubernetes") {
    if (auto v = readable_file(auth, "token_file")) inf.token_file = *v;
  }
}

void Loader::load_encryption(const Section& root) {
  Section s = section(root, "encryption");
  check_keys(s, {"mode", "recipient_public_key", "recipient_public_keys"});
  auto& e = cfg_.encryption;
  bool mode_ok = true;
  if (auto v = choice(s, "mode", {"sealed-box", "none"})) {
    e.mode = *v == "none" ? EncryptionMode::None : EncryptionMode::SealedBox;
  } else if (s.find("mode")) {
    mode_ok = false;
  }
  if (mode_ok && e.mode == EncryptionMode::None) {
    const MergedNode* n = s.find("mode");
    warn_at(n->doc, n->line(), "encryption.mode",
            "\"none\": consumer keys and secrets are published to Infisical without client-side "
            "sealing");
  }
  // A consumer-only config (deliveries, no rotations) seals nothing: no recipient needed.
  const bool seals = root.find("rotation") != nullptr || !root.find("deliver");
  Need need =
      seals && mode_ok && e.mode == EncryptionMode::SealedBox ? Need::Required : Need::Optional;
  if (need == Need::Required && !s.find("recipient_public_key") &&
      !s.find("recipient_public_keys")) {
    missing(s, "recipient_public_key",
            "generate a key pair with `eca-rotator keygen` and set recipient_public_key (or "
            "recipient_public_keys = [...] for several consumers' keys), or set mode = \"none\"");
    return;
  }
  load_recipients(s, need);
}

// recipient_public_key and recipient_public_keys (drop-ins append): at most
// kMaxRecipients keys, none twice.
void Loader::load_recipients(const Section& s, Need need) {
  auto& e = cfg_.encryption;
  // Each recipient's key, wherever it was given; a key listed twice is a mistake worth
  // reporting (a consumer removed from one place would still receive the pair).
  std::vector<std::string> ids;
  auto add_key = [&](const MergedNode& n, const std::string& name, const std::string& value) {
    if (std::string why = cr::check_public_key(value); !why.empty()) return error(n, name, why);
    auto raw = decode_key_b64(value, crypto_box_PUBLICKEYBYTES, "recipient public key");
    const std::string id = raw ? key_id(*raw) : value;
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      return error(n, name, "key " + id + " is listed twice");
    ids.push_back(id);
    e.recipient_public_keys.push_back(value);
  };
  if (auto v = str(s, "recipient_public_key", Need::Optional)) {
    add_key(*s.find("recipient_public_key"), "encryption.recipient_public_key", *v);
  }
  if (const MergedNode* list = s.find("recipient_public_keys")) {
    if (!list->node->is_array()) {
      error(*list, "encryption.recipient_public_keys",
            std::string("expected an array of strings, got ") + type_name(*list->node));
      return;
    }
    for (std::size_t i = 0; i < list->items.size(); ++i) {
      const MergedNode& item = list->items[i];
      const std::string name = "encryption.recipient_public_keys[" + std::to_string(i) + "]";
      const auto* v = item.node->as_string();
      std::string out, why;
      if (!v)
        error(item, name, std::string("expected a string, got ") + type_name(*item.node));
      else if (!expand_env(v->get(), env_, out, why))
        error(item, name, why);
      else
        add_key(item, name, out);
    }
    if (need == Need::Required && list->items.empty() && !s.find("recipient_public_key"))
      error(*list, "encryption.recipient_public_keys", "must list at least one public key");
  }
  if (e.recipient_public_keys.size() > kMaxRecipients) {
    error(*s.find("recipient_public_keys"), "encryption.recipient_public_keys",
          "at most " + std::to_string(kMaxRecipients) + " recipients (got " +
              std::to_string(e.recipient_public_keys.size()) + ")");
  }
}

void Loader::load_connections(const Section& root) {
  Section all = section(root, "connections");
  if (!all.node) return;
  connections_node_ = all.node;
  for (const auto& [name, member] : all.node->members) {
    std::string prefix = "connections." + name;
    if (!cr::is_slug(name)) {
      error_at(member.doc, member.key_line, prefix,
               "connection name must be a slug: lowercase letters, digits and '-', 1-63 "
               "characters, starting with "
               "a letter or digit");
    }
    if (!member.node->is_table()) {
      error(member, prefix,
            std::string("expected a table ([") + prefix + "]), got " + type_name(*member.node));
      continue;
    }
    Section s{&member, prefix, false};
    check_keys(s, {"my_domain_url", "api_version", "client_id", "auth", "client_secret",
                   "client_secret_file", "username", "private_key_file", "audience", "ca_file",
                   "ca_dir", "pinned_public_key", "insecure_skip_verify", "api_reserve_percent"});
    ConnectionSettings c;
    c.name = name;
    if (auto v = str(s, "my_domain_url", Need::Required)) {
      std::string normalized, warning;
      std::string why = cr::check_my_domain_url(*v, normalized, warning);
      const MergedNode* n = s.find("my_domain_url");
      if (!why.empty()) {
        error(*n, prefix + ".my_domain_url", why);
      } else {
        c.my_domain_url = normalized;
        if (!warning.empty()) warn_at(n->doc, n->line(), prefix + ".my_domain_url", warning);
      }
    }
    if (auto v = str(s, "api_version", Need::Optional)) {
      std::string why = cr::check_api_version(*v);
      if (why.empty())
        c.api_version = *v;
      else
        error(*s.find("api_version"), prefix + ".api_version", why + " (got " + dq(*v) + ")");
    }
    if (auto v = str(s, "client_id", Need::Required)) {
      if (has_control_or_space(*v))
        error(*s.find("client_id"), prefix + ".client_id",
              "must not contain spaces or control characters");
      else
        c.client_id = *v;
    }
    if (auto v = integer(s, "api_reserve_percent", 0, 90))
      c.api_reserve_percent = static_cast<int>(*v);
    load_connection_auth(s, c);
    load_tls(s, c.my_domain_url, c.ca_file, c.ca_dir, c.pinned_public_key, c.insecure_skip_verify);
    cfg_.connections.emplace(name, std::move(c));
  }
}

// auth = "client_credentials" (a consumer secret) or "jwt_bearer" (username, private key,
// audience); keys of the other method are errors, so a half-switched section is caught.
void Loader::load_connection_auth(const Section& s, ConnectionSettings& c) {
  const auto method = choice(s, "auth", {"client_credentials", "jwt_bearer"});
  if (!method && s.find("auth")) return;  // reported
  const bool jwt = method && *method == "jwt_bearer";
  c.auth = jwt ? SfAuthMethod::JwtBearer : SfAuthMethod::ClientCredentials;
  const std::vector<std::string> other =
      jwt ? std::vector<std::string>{"client_secret", "client_secret_file"}
          : std::vector<std::string>{"username", "private_key_file", "audience"};
  for (const auto& key : other) {
    if (const MergedNode* n = s.find(key))
      error(*n, join(s.prefix, key),
            std::string("not used with auth = \"") + (jwt ? "jwt_bearer" : "client_credentials") +
                "\"; remove it" + (jwt ? "" : " or set auth = \"jwt_bearer\""));
  }
  if (!jwt) {
    if (auto secret = client_secret(s, "sf-" + c.name + "-client-secret"))
      c.client_secret = std::move(*secret);
    return;
  }
  if (auto v = str(s, "username", Need::Required)) {
    if (has_control_or_space(*v) || v->find('@') == std::string::npos)
      error(
          *s.find("username"), join(s.prefix, "username"),
          "must be a Salesforce username (name@example.com), without spaces (got " + dq(*v) + ")");
    else
      c.username = *v;
  }
  if (auto v = str(s, "audience", Need::Optional)) {
    if (v->rfind("https://", 0) != 0 || has_control_or_space(*v))
      error(*s.find("audience"), join(s.prefix, "audience"),
            "must be an https:// URL such as https://login.salesforce.com (got " + dq(*v) + ")");
    else
      c.audience = *v;
  }
  if (auto key = private_key(s, "sf-" + c.name + "-private-key"))
    c.private_key_pem = std::move(*key);
}

// private_key_file, or $CREDENTIALS_DIRECTORY/<credential_name>; parsed here so a key that
// will not sign is a configuration error, not a failed login at 3 a.m.
std::optional<Secret> Loader::private_key(const Section& s, const std::string& credential_name) {
  const std::string key = join(s.prefix, "private_key_file");
  std::optional<Secret> pem;
  const ConfigDocument* doc = s.node ? s.node->doc : nullptr;
  int line = s.node ? s.node->line() : 0;
  if (const MergedNode* file = s.find("private_key_file")) {
    auto p = str(s, "private_key_file", Need::Required);
    if (!p) return std::nullopt;
    doc = file->doc;
    line = file->line();
    pem = read_secret_file(resolve(*p), doc, line, key, /*private_only=*/true);
  } else if (auto dir = env_("CREDENTIALS_DIRECTORY");
             dir && !dir->empty() &&
             std::filesystem::exists(std::filesystem::path(*dir) / credential_name)) {
    pem = read_secret_file(std::filesystem::path(*dir) / credential_name, doc, line, key, true);
  } else {
    missing(s, "private_key_file",
            "auth = \"jwt_bearer\" needs the PEM private key whose certificate is on the External "
            "Client "
            "App: set private_key_file, or pass the systemd credential \"" +
                credential_name + "\" with LoadCredential=");
    return std::nullopt;
  }
  if (!pem) return std::nullopt;
  auto signer = RsaSigner::from_pem(*pem, "the key file");
  if (!signer) {
    error_at(doc, line, key, signer.error().message);
    return std::nullopt;
  }
  return pem;
}

// What the rotations read so far claim: the cross-rotation checks look each new one up
// here (hash maps: linear in the number of rotations).
struct Loader::RotationClaims {
  std::unordered_map<std::string, std::size_t> by_name;    // name -> index
  std::unordered_map<std::string, std::size_t> by_secret;  // path \n secret name -> index
  std::unordered_map<std::string, std::size_t> by_target;  // connection \n app15 \n consumer15
  // connection \n app15 -> (some rotation of the app has no consumer_id, index)
  std::unordered_map<std::string, std::pair<bool, std::size_t>> by_app;
  std::vector<std::string> connection_names;  // sorted (a map's keys)
  std::vector<bool> used;                     // per connection name
};

void Loader::load_rotations(const Section& root) {
  const MergedNode* list = root.find("rotation");
  if (!list) {
    if (!root.find("deliver"))
      warn_at(nullptr, 0, "rotation", "no [[rotation]] entries: nothing will be rotated");
    if (connections_node_) {
      for (const auto& [name, member] : connections_node_->members)
        warn_at(member.doc, member.line(), "connections." + name,
                "connection is not used by any rotation");
    }
    return;
  }
  if (!list->node->is_array()) {
    error(*list, "rotation",
          std::string("expected an array of tables (write [[rotation]], with two brackets), got ") +
              type_name(*list->node));
    return;
  }
  RotationClaims claims;
  if (connections_node_)
    for (const auto& [n, m] : connections_node_->members) claims.connection_names.push_back(n);
  claims.used.assign(claims.connection_names.size(), false);

  cfg_.rotations.reserve(list->items.size());
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const MergedNode& item = list->items[i];
    std::string prefix = "rotation[" + std::to_string(i) + "]";
    if (!item.node->is_table()) {
      error(item, prefix,
            std::string("expected a table ([[rotation]]), got ") + type_name(*item.node));
      continue;
    }
    load_rotation(Section{&item, prefix, false}, claims);
  }
  for (std::size_t i = 0; i < claims.connection_names.size(); ++i) {
    if (claims.used[i]) continue;
    const MergedNode* n = connections_node_->find(claims.connection_names[i]);
    warn_at(n->doc, n->line(), "connections." + claims.connection_names[i],
            "connection is not used by any rotation");
  }
}

void Loader::load_rotation(const Section& s, RotationClaims& claims) {
  static const std::vector<std::string> known = {"name",
                                                 "description",
                                                 "connection",
                                                 "app_id",
                                                 "consumer_id",
                                                 "interval_days",
                                                 "rotate_at",
                                                 "auto_rotation",
                                                 "secret_path",
                                                 "consumer_key_secret",
                                                 "consumer_secret_secret",
                                                 "adopt"};
  check_keys(s, known);
  RotationSettings r;
  r.source = s.node->doc->path + ":" + std::to_string(s.node->line());
  if (auto v = str(s, "name", Need::Required)) {
    if (cr::is_slug(*v))
      r.name = *v;
    else
      error(*s.find("name"), s.prefix + ".name",
            "must be a slug: lowercase letters, digits and '-', 1-63 characters, starting with a "
            "letter or digit "
            "(got " +
                dq(*v) + ")");
  }
  if (auto v = str(s, "description", Need::Optional)) r.description = *v;
  load_rotation_target(s, r, claims);
  load_rotation_schedule(s, r);
  const bool place_ok = load_rotation_place(s, r);
  check_rotation_claims(s, r, place_ok, claims);
  cfg_.rotations.push_back(std::move(r));
}

// connection, app_id, consumer_id: which credentials the rotation changes.
void Loader::load_rotation_target(const Section& s, RotationSettings& r, RotationClaims& claims) {
  const std::string& prefix = s.prefix;
  if (auto v = str(s, "connection", Need::Required)) {
    const auto& names = claims.connection_names;
    auto it = std::lower_bound(names.begin(), names.end(), *v);
    if (it != names.end() && *it == *v) {
      r.connection = *v;
      claims.used[static_cast<std::size_t>(it - names.begin())] = true;
    } else {
      std::string msg = "unknown connection " + dq(*v);
      std::string hint = cr::suggest(*v, names);
      if (!hint.empty())
        msg += " (did you mean \"" + hint + "\"?)";
      else if (names.empty())
        msg += ": no [connections.NAME] section is defined";
      else
        msg += "; defined: " + one_of(names);
      error(*s.find("connection"), prefix + ".connection", msg);
    }
  }
  if (auto v = str(s, "app_id", Need::Required)) {
    const MergedNode* n = s.find("app_id");
    if (!cr::is_salesforce_id(*v)) {
      error(*n, prefix + ".app_id",
            "must be a Salesforce id of 15 or 18 letters and digits, such as 0xIKj000000XXXXXXX "
            "(got " +
                dq(*v) + ")");
    } else {
      r.app_id = *v;
      if (v->rfind("0xI", 0) != 0)
        warn_at(n->doc, n->line(), prefix + ".app_id",
                "does not start with \"0xI\" (the prefix of External Client App ids); check that "
                "it is the app's "
                "id, not a consumer id or key");
    }
  }
  if (auto v = str(s, "consumer_id", Need::Optional)) {
    if (v->empty() || cr::is_salesforce_id(*v))
      r.consumer_id = *v;
    else
      error(*s.find("consumer_id"), prefix + ".consumer_id",
            "must be a Salesforce id of 15 or 18 letters and digits (got " + dq(*v) + ")");
  }
}

// interval_days, rotate_at, auto_rotation, adopt: when it rotates.
void Loader::load_rotation_schedule(const Section& s, RotationSettings& r) {
  if (auto v = integer(s, "interval_days", 1, 365)) r.interval_days = static_cast<int>(*v);
  if (auto v = str(s, "rotate_at", Need::Optional)) {
    if (auto t = TimeOfDay::parse(*v))
      r.rotate_at = *t;
    else
      error(*s.find("rotate_at"), s.prefix + ".rotate_at",
            "must be a 24-hour time \"HH:MM\", e.g. \"03:30\" (got " + dq(*v) + ")");
  }
  if (auto v = boolean(s, "auto_rotation")) r.auto_rotation = *v;
  if (auto v = boolean(s, "adopt")) r.adopt = *v;
}

// secret_path and the two secret names: where the pair is published. False when any of
// them is wrong (the cross-rotation check of the place is then skipped).
bool Loader::load_rotation_place(const Section& s, RotationSettings& r) {
  const std::string& prefix = s.prefix;
  bool ok = true;
  if (auto v = str(s, "secret_path", Need::Optional)) {
    std::string why = cr::check_secret_path(*v);
    if (why.empty()) {
      r.secret_path = *v;
    } else {
      ok = false;
      error(*s.find("secret_path"), prefix + ".secret_path", why + " (got " + dq(*v) + ")");
    }
  } else if (s.find("secret_path")) {
    ok = false;
  }
  for (const char* key : {"consumer_key_secret", "consumer_secret_secret"}) {
    if (auto v = str(s, key, Need::Optional)) {
      if (!cr::is_secret_name(*v)) {
        ok = false;
        error(*s.find(key), prefix + "." + key,
              "must be an Infisical secret name: letters, digits, '_', '.' and '-' (got " + dq(*v) +
                  ")");
      } else if (std::string_view(key) == "consumer_key_secret") {
        r.consumer_key_secret = *v;
      } else {
        r.consumer_secret_secret = *v;
      }
    } else if (s.find(key)) {
      ok = false;
    }
  }
  if (ok && r.consumer_key_secret == r.consumer_secret_secret) {
    const MergedNode* n = s.find("consumer_secret_secret") ? s.find("consumer_secret_secret")
                                                           : s.find("consumer_key_secret");
    error(n ? *n : *s.node, prefix + ".consumer_secret_secret",
          "must differ from consumer_key_secret (both are " + dq(r.consumer_key_secret) + ")");
    return false;
  }
  return ok;
}

// Two rotations must not share a name or a published secret, nor fight over one
// consumer; two rotations of one app where either has no consumer_id get a warning.
void Loader::check_rotation_claims(const Section& s, const RotationSettings& r, bool place_ok,
                                   RotationClaims& claims) {
  const std::string& prefix = s.prefix;
  const std::size_t index = cfg_.rotations.size();
  if (!r.name.empty()) {
    auto [it, inserted] = claims.by_name.emplace(r.name, index);
    if (!inserted) {
      error(*s.find("name"), prefix + ".name",
            "rotation name " + dq(r.name) + " is defined twice: at " +
                cfg_.rotations[it->second].source + " and at " + r.source);
    }
  }
  if (place_ok) {
    for (const std::string* secret_name : {&r.consumer_key_secret, &r.consumer_secret_secret}) {
      auto [it, inserted] = claims.by_secret.emplace(r.secret_path + "\n" + *secret_name, index);
      if (!inserted) {
        const auto& other = cfg_.rotations[it->second];
        const MergedNode* n = s.find("secret_path");
        error(n ? *n : *s.node, prefix + ".secret_path",
              "secret " + r.secret_path + (r.secret_path == "/" ? "" : "/") + *secret_name +
                  " is already written by rotation " + dq(other.name) + " (" + other.source +
                  "); give each rotation its own secret_path or secret names");
      }
    }
  }
  if (!r.connection.empty() && !r.app_id.empty()) check_target_claims(s, r, claims);
}

void Loader::check_target_claims(const Section& s, const RotationSettings& r,
                                 RotationClaims& claims) {
  const std::size_t index = cfg_.rotations.size();
  const std::string who = r.name.empty() ? s.prefix : dq(r.name);
  const std::string app_key = r.connection + "\n" + r.app_id.substr(0, 15);
  const std::string target = app_key + "\n" + r.consumer_id.substr(0, 15);
  auto [it, inserted] = claims.by_target.emplace(target, index);
  if (!inserted) {
    const auto& other = cfg_.rotations[it->second];
    error(*s.find("app_id"), s.prefix + ".app_id",
          "rotation " + who + " targets the same app" +
              (r.consumer_id.empty() ? "" : " and consumer") + " on connection " +
              dq(r.connection) + " as rotation " + dq(other.name) + " (" + other.source +
              "): they would fight over its credentials");
    return;
  }
  auto [ait, first] = claims.by_app.emplace(app_key, std::make_pair(r.consumer_id.empty(), index));
  if (first) return;
  if (ait->second.first || r.consumer_id.empty()) {
    const auto& other = cfg_.rotations[ait->second.second];
    const MergedNode* n = s.find("app_id");
    warn_at(n->doc, n->line(), s.prefix + ".app_id",
            "rotation " + who + " and rotation " + dq(other.name) + " (" + other.source +
                ") use the same app and at least one has no consumer_id: both may rotate the same "
                "consumer");
  }
  ait->second.first = ait->second.first || r.consumer_id.empty();
}

void Loader::load_deliveries(const MergedNode& list) {
  DeliveryContext ctx;
  ctx.base_dir = base_dir_;
  ctx.default_project_id = cfg_.infisical.project_id;
  ctx.default_environment = cfg_.infisical.environment;
  ctx.sealed_by_default = cfg_.encryption.mode == EncryptionMode::SealedBox;
  ctx.env = env_;
  for (const auto& r : cfg_.rotations)
    ctx.rotations.push_back(
        {r.name, r.secret_path, r.consumer_key_secret, r.consumer_secret_secret, r.interval_days});
  cfg_.deliveries = eca::load_deliveries(list, ctx, errors_, cfg_.warnings);
}

ConfigLoadResult Loader::run() {
  ConfigLoadResult result;
  ConfigSources sources;
  std::vector<SyntaxError> syntax;
  std::vector<std::filesystem::path> files{main_file_};
  bool main_ok = sources.add_file(main_file_, syntax);
  if (main_ok || std::filesystem::exists(main_file_)) {
    for (auto& p : ConfigSources::drop_ins(main_file_, syntax)) files.push_back(p);
    for (std::size_t i = 1; i < files.size(); ++i) sources.add_file(files[i], syntax);
  }
  cfg_.main_file = main_file_;
  cfg_.files = files;
  if (!syntax.empty()) {
    for (auto& e : syntax) {
      ConfigError err{e.file, e.line, "", e.message};
      err.column = e.column;
      result.errors.push_back(std::move(err));
    }
    sources.wipe_strings_named({"client_secret"});
    return result;
  }

  MergedNode root = sources.merge();
  Section top{&root, "", false};
  check_keys(top, {"agent", "infisical", "encryption", "connections", "rotation", "deliver"});
  load_agent(top);
  load_infisical(top);
  load_encryption(top);
  load_connections(top);
  load_rotations(top);
  if (const MergedNode* list = top.find("deliver")) load_deliveries(*list);
  sources.wipe_strings_named({"client_secret"});
  for (auto& r : cfg_.rotations) r.splay = splay_offset(r.name, cfg_.agent.splay_minutes);

  // Report in reading order: by file (main file, then drop-ins), then by line.
  std::unordered_map<std::string, std::size_t> file_index;
  for (std::size_t i = 0; i < files.size(); ++i) file_index.emplace(files[i].string(), i);
  auto rank = [&](const ConfigError& e) {
    auto it = file_index.find(e.file);
    return std::make_pair(it == file_index.end() ? files.size() : it->second, e.line);
  };
  std::stable_sort(errors_.begin(), errors_.end(),
                   [&](const ConfigError& a, const ConfigError& b) { return rank(a) < rank(b); });
  result.errors = std::move(errors_);
  if (result.errors.empty()) result.config = std::move(cfg_);
  return result;
}

}  // namespace

std::optional<TimeOfDay> TimeOfDay::parse(std::string_view hhmm) {
  if (!config_rules::is_time_of_day(hhmm)) return std::nullopt;
  return TimeOfDay{(hhmm[0] - '0') * 10 + (hhmm[1] - '0'), (hhmm[3] - '0') * 10 + (hhmm[4] - '0')};
}

std::string TimeOfDay::text() const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", hour % 24, minute % 60);
  return buf;
}

std::chrono::seconds splay_offset(std::string_view rotation_name, int splay_minutes) {
  if (splay_minutes <= 0) return std::chrono::seconds(0);
  // FNV-1a: fixed by definition, so every agent and every version agrees on the offset
  // (std::hash may differ between standard libraries).
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : rotation_name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return std::chrono::seconds(
      static_cast<long long>(h % (static_cast<std::uint64_t>(splay_minutes) * 60)));
}

const RotationSettings* Config::find_rotation(const std::string& name) const {
  for (const auto& r : rotations)
    if (r.name == name) return &r;
  return nullptr;
}

std::string ConfigError::to_string() const {
  std::string s = file;
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  s += ": ";
  if (!key.empty()) s += key + ": ";
  s += message;
  return s;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

ConfigLoadResult load_config(const std::filesystem::path& main_file, EnvLookup env) {
  if (env == nullptr) env = process_env;
  try {
    return Loader(main_file, env).run();
  } catch (const std::exception& e) {
    ConfigLoadResult r;
    r.errors.push_back(
        {main_file.string(), 0, "", std::string("internal error while loading: ") + e.what()});
    return r;
  }
}

}  // namespace eca

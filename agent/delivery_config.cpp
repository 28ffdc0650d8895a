// Parsing and checking of `[[deliver]]` sections (see delivery_config.h). Separate from
// config.cpp so the consumer side's rules live in one place; it sees the merged tree and
// the few rotation facts a delivery may refer to.
#include "agent/delivery_config.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <unordered_set>

#include "agent/config.h"
#include "agent/config_merge.h"
#include "agent/config_rules.h"
#include "agent/env_expand.h"
#include "crypto/key_pair.h"

namespace eca {
namespace {

namespace cr = config_rules;

// The systemd credential a delivery reads its private key from when no file is given
// (the same name `eca-rotator open` looks for).
constexpr const char* kKeyCredential = "eca-private-key";

const std::vector<std::string> kKnown = {"name",
                                         "rotation",
                                         "project_id",
                                         "environment",
                                         "secret_path",
                                         "consumer_key_secret",
                                         "consumer_secret_secret",
                                         "encryption",
                                         "private_key_file",
                                         "private_key_credential",
                                         "path",
                                         "format",
                                         "template_file",
                                         "key_variable",
                                         "secret_variable",
                                         "owner",
                                         "group",
                                         "mode",
                                         "on_change",
                                         "on_change_debounce_seconds",
                                         "on_change_splay_seconds",
                                         "poll_seconds",
                                         "source_interval_days",
                                         "max_lag_share"};

std::string dq(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// One [[deliver]] table being read; every problem is recorded against its key.
class Reader {
 public:
  Reader(const MergedNode& item, std::string prefix, const DeliveryContext& ctx,
         std::vector<ConfigError>& errors, std::vector<std::string>& warnings)
      : item_(item), prefix_(std::move(prefix)), ctx_(ctx), errors_(errors), warnings_(warnings) {}

  const MergedNode* find(const std::string& key) const { return item_.find(key); }
  void error(const std::string& key, const std::string& message) {
    const MergedNode* n = find(key);
    const MergedNode& at = n ? *n : item_;
    errors_.push_back({at.doc ? at.doc->path : "", at.line(), prefix_ + "." + key, message});
  }
  void warn(const std::string& key, const std::string& message) {
    const MergedNode* n = find(key);
    const MergedNode& at = n ? *n : item_;
    ConfigError w{at.doc ? at.doc->path : "", at.line(), prefix_ + "." + key, message};
    warnings_.push_back(w.to_string());
  }
  std::optional<std::string> str(const std::string& key, bool required = false) {
    const MergedNode* n = find(key);
    if (!n) {
      if (required) error(key, "required key is missing");
      return std::nullopt;
    }
    const auto* v = n->node->as_string();
    std::string out, why;
    if (!v) {
      error(key, "expected a string");
      return std::nullopt;
    }
    if (!expand_env(v->get(), ctx_.env, out, why)) {
      error(key, why);
      return std::nullopt;
    }
    if (out.empty()) {
      error(key, "must not be empty");
      return std::nullopt;
    }
    return out;
  }
  std::optional<long> integer(const std::string& key, long lo, long hi) {
    const MergedNode* n = find(key);
    if (!n) return std::nullopt;
    const auto* v = n->node->as_integer();
    if (!v || v->get() < lo || v->get() > hi) {
      error(key, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
      return std::nullopt;
    }
    return static_cast<long>(v->get());
  }
  const DeliveryContext& ctx() const { return ctx_; }
  const MergedNode& item() const { return item_; }

 private:
  const MergedNode& item_;
  std::string prefix_;
  const DeliveryContext& ctx_;
  std::vector<ConfigError>& errors_;
  std::vector<std::string>& warnings_;
};

// The source: a rotation of this config, or an explicit place.
void load_source(Reader& r, DeliverySettings& d) {
  const auto& ctx = r.ctx();
  d.project_id = ctx.default_project_id;
  d.environment = ctx.default_environment;
  if (auto v = r.str("rotation")) {
    for (const char* k : {"project_id", "environment", "secret_path", "consumer_key_secret",
                          "consumer_secret_secret"}) {
      if (r.find(k))
        r.error(k,
                "set either rotation or the place (project_id, environment, "
                "secret_path and secret names), not both");
    }
    auto it = std::find_if(ctx.rotations.begin(), ctx.rotations.end(),
                           [&](const auto& p) { return p.name == *v; });
    if (it == ctx.rotations.end()) {
      std::vector<std::string> names;
      for (const auto& p : ctx.rotations) names.push_back(p.name);
      std::string hint = cr::suggest(*v, names);
      r.error("rotation", "no [[rotation]] named " + dq(*v) +
                              (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
      return;
    }
    d.rotation = *v;
    d.secret_path = it->secret_path;
    d.consumer_key_secret = it->key_secret;
    d.consumer_secret_secret = it->secret_secret;
    d.source_interval_days = it->interval_days;
    return;
  }
  if (auto v = r.str("project_id")) d.project_id = *v;
  if (auto v = r.str("environment")) d.environment = *v;
  if (auto v = r.str("secret_path")) {
    if (std::string why = cr::check_secret_path(*v); why.empty())
      d.secret_path = *v;
    else
      r.error("secret_path", why + " (got " + dq(*v) + ")");
  }
  for (const char* k : {"consumer_key_secret", "consumer_secret_secret"}) {
    auto v = r.str(k);
    if (!v) continue;
    if (!cr::is_secret_name(*v))
      r.error(k, "must be an Infisical secret name: letters, digits, '_', '.' and '-' (got " +
                     dq(*v) + ")");
    else
      (std::string_view(k) == "consumer_key_secret" ? d.consumer_key_secret
                                                    : d.consumer_secret_secret) = *v;
  }
  if (d.project_id.empty() || d.environment.empty())
    r.error("project_id",
            "no Infisical project/environment: set [infisical] project_id and "
            "environment, or project_id and environment here");
}

// The private key: a file only its owner can read, or a systemd credential.
void load_private_key(Reader& r, DeliverySettings& d) {
  const auto& ctx = r.ctx();
  if (auto v = r.str("encryption")) {
    if (*v != "sealed-box" && *v != "none")
      r.error("encryption", "must be \"sealed-box\" or \"none\" (got " + dq(*v) + ")");
    else
      d.sealed = *v == "sealed-box";
  } else {
    d.sealed = ctx.sealed_by_default;
  }
  if (!d.sealed) return;
  std::filesystem::path file;
  std::string key = "private_key_file";
  if (auto v = r.str("private_key_file")) {
    file = std::filesystem::path(*v).is_absolute() ? std::filesystem::path(*v) : ctx.base_dir / *v;
  } else {
    std::string cred = r.str("private_key_credential").value_or(kKeyCredential);
    auto dir = ctx.env ? ctx.env("CREDENTIALS_DIRECTORY") : std::nullopt;
    if (!dir || dir->empty()) {
      r.error("private_key_file",
              "required key is missing: set private_key_file (mode 0600), or pass the systemd "
              "credential \"" +
                  cred + "\" with LoadCredential=");
      return;
    }
    file = std::filesystem::path(*dir) / cred;
    key = r.find("private_key_credential") ? "private_key_credential" : "private_key_file";
  }
  auto k = read_private_key(file);
  if (!k) {
    r.error(key, k.error().message);
    return;
  }
  d.private_key = std::move(k.value());
  d.private_key_source = file.string();
}

// Names usable as shell variables and Java property keys alike.
bool is_variable_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Every {{...}} in a template must be one we fill in: a typo would otherwise ship a
// literal placeholder to the application.
std::string check_template(const std::string& text) {
  static const std::vector<std::string> known = {"key", "secret", "generation", "rotated_at"};
  for (std::size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
    auto end = text.find("}}", at);
    if (end == std::string::npos) return "unclosed \"{{\" in the template";
    std::string name = text.substr(at + 2, end - at - 2);
    if (std::find(known.begin(), known.end(), name) == known.end())
      return "unknown placeholder {{" + name +
             "}}; known: {{key}}, {{secret}}, {{generation}}, {{rotated_at}}";
  }
  return "";
}

void load_format(Reader& r, DeliverySettings& d) {
  if (auto v = r.str("format")) {
    if (*v == "env")
      d.format = DeliveryFormat::Env;
    else if (*v == "json")
      d.format = DeliveryFormat::Json;
    else if (*v == "properties")
      d.format = DeliveryFormat::Properties;
    else if (*v == "template")
      d.format = DeliveryFormat::Template;
    else
      r.error("format",
              "must be \"env\", \"json\", \"properties\" or \"template\" (got " + dq(*v) + ")");
  }
  for (const char* k : {"key_variable", "secret_variable"}) {
    auto v = r.str(k);
    if (!v) continue;
    if (!is_variable_name(*v))
      r.error(k, "must be letters, digits and '_', not starting with a digit (got " + dq(*v) + ")");
    else
      (std::string_view(k) == "key_variable" ? d.key_variable : d.secret_variable) = *v;
  }
  auto tpl = r.str("template_file");
  if (d.format != DeliveryFormat::Template) {
    if (tpl) r.error("template_file", "only used with format = \"template\"");
    return;
  }
  if (!tpl) return r.error("template_file", "required with format = \"template\"");
  d.template_file = std::filesystem::path(*tpl).is_absolute() ? std::filesystem::path(*tpl)
                                                              : r.ctx().base_dir / *tpl;
  std::FILE* f = std::fopen(d.template_file.c_str(), "re");
  if (!f) return r.error("template_file", "cannot read " + d.template_file.string());
  char buf[4096];
  for (std::size_t n;
       (n = std::fread(buf, 1, sizeof buf, f)) > 0 && d.template_text.size() < (1 << 20);)
    d.template_text.append(buf, n);
  std::fclose(f);
  if (std::string why = check_template(d.template_text); !why.empty())
    r.error("template_file", d.template_file.string() + ": " + why);
}

std::string default_file_name(const DeliverySettings& d) {
  switch (d.format) {
    case DeliveryFormat::Env:
      return d.name + ".env";
    case DeliveryFormat::Json:
      return d.name + ".json";
    case DeliveryFormat::Properties:
      return d.name + ".properties";
    case DeliveryFormat::Template:
      return d.name;
  }
  return d.name;
}

// "0640" (a string) or 0o640 (a TOML octal integer).
std::optional<mode_t> parse_mode(const MergedNode& n) {
  long m = -1;
  if (const auto* i = n.node->as_integer()) m = static_cast<long>(i->get());
  if (const auto* s = n.node->as_string()) {
    const std::string& t = s->get();
    if (t.size() >= 3 && t.size() <= 4 && t.find_first_not_of("01234567") == std::string::npos)
      m = std::stol(t, nullptr, 8);
  }
  if (m < 0 || m > 0777) return std::nullopt;
  return static_cast<mode_t>(m);
}

void load_output(Reader& r, DeliverySettings& d) {
  load_format(r, d);
  const auto dir = default_delivery_dir(r.ctx().env);
  if (auto v = r.str("path")) {
    // A bare or relative name lands in the runtime directory, which the unit may write.
    d.path = std::filesystem::path(*v).is_absolute() ? std::filesystem::path(*v) : dir / *v;
  } else {
    d.path = dir / default_file_name(d);
  }
  if (const MergedNode* n = r.find("mode")) {
    auto m = parse_mode(*n);
    if (!m)
      r.error("mode", "must be an octal mode such as \"0640\" or 0o640");
    else if ((*m & 0002) != 0 || (*m & 0400) == 0)
      r.error("mode",
              "must leave the owner able to read and others unable to write (e.g. \"0640\")");
    else
      d.mode = *m;
    if (m && (*m & 0004) != 0)
      r.warn("mode",
             "the delivered file is readable by every user of this machine; use a group instead");
  }
  if (auto v = r.str("owner")) {
    const passwd* pw = ::getpwnam(v->c_str());
    if (!pw)
      r.error("owner", "no such user " + dq(*v) + " on this machine");
    else
      d.uid = pw->pw_uid;
    d.chown = true;
  }
  if (auto v = r.str("group")) {
    const group* gr = ::getgrnam(v->c_str());
    if (!gr)
      r.error("group", "no such group " + dq(*v) + " on this machine");
    else
      d.gid = gr->gr_gid;
    d.chown = true;
  }
}

void load_hook_and_timing(Reader& r, DeliverySettings& d) {
  if (const MergedNode* n = r.find("on_change")) {
    bool ok = n->node->is_array() && !n->items.empty();
    for (const auto& item : n->items) {
      const auto* s = item.node->as_string();
      if (!s || s->get().empty())
        ok = false;
      else
        d.on_change.push_back(s->get());
    }
    if (!ok) {
      d.on_change.clear();
      r.error("on_change",
              "must be a non-empty array of strings, the command and its arguments "
              "(e.g. [\"systemctl\", \"reload\", \"myapp\"]); for a shell use "
              "[\"/bin/sh\", \"-c\", \"...\"]");
    }
  }
  if (auto v = r.integer("on_change_debounce_seconds", 0, 3600))
    d.debounce_seconds = static_cast<int>(*v);
  if (auto v = r.integer("on_change_splay_seconds", 0, 3600))
    d.splay_seconds = static_cast<int>(*v);
  if (auto v = r.integer("poll_seconds", 1, 86400)) d.poll_seconds = static_cast<int>(*v);
  if (auto v = r.integer("source_interval_days", 1, 365)) {
    if (!d.rotation.empty())
      r.error("source_interval_days", "taken from the rotation's interval_days; remove it");
    else
      d.source_interval_days = static_cast<int>(*v);
  }
  if (const MergedNode* n = r.find("max_lag_share")) {
    const auto* f = n->node->as_floating_point();
    if (!f || f->get() <= 0 || f->get() > 1)
      r.error("max_lag_share", "must be a number above 0 and at most 1 (e.g. 0.5)");
    else
      d.max_lag_share = f->get();
  }
}

}  // namespace

std::filesystem::path default_delivery_dir(std::optional<std::string> (*env)(const std::string&)) {
  auto dir = env ? env("RUNTIME_DIRECTORY") : std::nullopt;
  if (dir && !dir->empty()) {
    // systemd passes several directories separated by ':'; the first is ours.
    return dir->substr(0, dir->find(':'));
  }
  return "/run/eca-rotator";
}

std::vector<DeliverySettings> load_deliveries(const MergedNode& list, const DeliveryContext& ctx,
                                              std::vector<ConfigError>& errors,
                                              std::vector<std::string>& warnings) {
  std::vector<DeliverySettings> out;
  if (!list.node->is_array()) {
    errors.push_back({list.doc ? list.doc->path : "", list.line(), "deliver",
                      "expected an array of tables (write [[deliver]], with two brackets)"});
    return out;
  }
  std::unordered_set<std::string> names, paths;
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const MergedNode& item = list.items[i];
    const std::string prefix = "deliver[" + std::to_string(i) + "]";
    if (!item.node->is_table()) {
      errors.push_back(
          {item.doc ? item.doc->path : "", item.line(), prefix, "expected a table ([[deliver]])"});
      continue;
    }
    Reader r(item, prefix, ctx, errors, warnings);
    for (const auto& [key, member] : item.members) {
      if (std::find(kKnown.begin(), kKnown.end(), key) != kKnown.end()) continue;
      std::string hint = cr::suggest(key, kKnown);
      errors.push_back(
          {member.doc ? member.doc->path : "", member.key_line, prefix + "." + key,
           "unknown key" + (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")});
    }
    DeliverySettings d;
    d.source = (item.doc ? item.doc->path : "") + ":" + std::to_string(item.line());
    if (auto v = r.str("name", true)) {
      if (!cr::is_slug(*v))
        r.error("name", "must be a slug: lowercase letters, digits and '-' (got " + dq(*v) + ")");
      else if (!names.insert(*v).second)
        r.error("name", "delivery name " + dq(*v) + " is used twice");
      else
        d.name = *v;
    }
    load_source(r, d);
    load_private_key(r, d);
    load_output(r, d);
    load_hook_and_timing(r, d);
    if (!d.path.empty() && !paths.insert(d.path.string()).second)
      r.error("path", d.path.string() + " is the output of another delivery too");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace eca

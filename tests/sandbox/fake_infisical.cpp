#include "tests/sandbox/fake_infisical.h"

#include <fnmatch.h>
#include <rapidjson/document.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "tests/sandbox/admin_routes.h"
#include "tests/sandbox/form_decoding.h"
#include "tests/sandbox/json_builder.h"
#include "tests/sandbox/random_text.h"
#include "tests/sandbox/time_format.h"

namespace eca::sandbox {
namespace {

using TimePoint = FakeClock::time_point;
using rapidjson::Value;

struct Secret {
  std::string id;
  std::string value;
  std::string comment;
  int version = 1;
  TimePoint created;
  TimePoint updated;
  SecretMetadata metadata;
  bool skip_multiline = false;
};

struct Folder {
  std::string id;
  std::string name;
  std::optional<std::string> parent_id;  // none for the root
  TimePoint created;
  // Set by the single-secret routes and by seeding, not by batch writes: folders that
  // only batch writes touched list it as null (147 vs 136, 156).
  std::optional<TimePoint> last_secret_modified;
};

struct Environment {
  std::string id;
  std::string slug;
  // Full path -> its copies, oldest first. Parallel creates duplicate folders like the
  // real server does (132-147); path lookups see the oldest copy.
  std::map<std::string, std::vector<Folder>> folders;
  std::map<std::string, std::map<std::string, Secret>> secrets;  // path -> name -> secret
  std::set<std::string> approval_paths;
};

struct Project {
  std::string id;
  std::string slug;
  std::map<std::string, Environment> environments;  // by slug
  std::map<std::string, ProjectRole> members;       // client id -> role
};

struct Identity {
  std::string id;
  std::string client_secret;
  std::set<std::string> cloud_methods;  // "aws-auth", "gcp-auth", ...
  std::chrono::seconds ttl{0};
  std::chrono::seconds max_ttl{0};
  std::vector<TimePoint> failures;
  std::optional<TimePoint> locked_until;
};

struct AccessToken {
  std::string client_id;
  TimePoint issued;
  TimePoint chain_start;  // first login of a renew chain: max TTL counts from here
  std::chrono::seconds ttl{0};
  std::chrono::seconds max_ttl{0};
  bool revoked = false;
  bool deleted = false;  // a refused renewal deletes the token (150, 151)
};

// The shape of a secret object differs by route, as recorded (20-23, 49, 67, 103).
enum class Shape { Create, Update, Get, Delete, List };

constexpr const char* kMalformedToken =
    "The provided access token is malformed. Please use a valid token or generate a new one "
    "and try again.";

// "/a/b/" and "a//b" name the folder "/a/b".
std::string normalize_path(const std::string& path) {
  std::string out = "/";
  for (std::size_t at = 0; at < path.size();) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    if (slash > at) {
      if (out.size() > 1) out += '/';
      out += path.substr(at, slash - at);
    }
    at = slash + 1;
  }
  return out;
}

// Path segments may hold letters, digits, dashes and underscores only (114-118).
bool valid_path(const std::string& normalized) {
  return normalized.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/") ==
         std::string::npos;
}

constexpr const char* kInvalidPath =
    "Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed.";

// A role rule's `secretPath` glob: "/a/**" is /a and everything below it.
bool glob_match(const std::string& pattern, const std::string& path) {
  if (pattern.empty() || pattern == "**" || pattern == "/**") return true;
  if (pattern.size() > 3 && pattern.compare(pattern.size() - 3, 3, "/**") == 0) {
    const std::string base = pattern.substr(0, pattern.size() - 3);
    if (path == base || path.rfind(base + "/", 0) == 0) return true;
  }
  return fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0;
}

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string join_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

// The server's schema: z.string().transform(v => v.at(-1) === "\n" ? `${v.trim()}\n` : v.trim())
std::string trim_value(const std::string& value) {
  static constexpr const char* kSpace = " \t\n\r\f\v";
  const std::size_t first = value.find_first_not_of(kSpace);
  std::string trimmed = first == std::string::npos
                            ? std::string()
                            : value.substr(first, value.find_last_not_of(kSpace) - first + 1);
  if (!value.empty() && value.back() == '\n') trimmed += '\n';
  return trimmed;
}

std::string error_json(int status, std::string_view error, std::string_view message) {
  JsonBuilder json;
  json.begin_object()
      .field_string("reqId", "req-" + random_alnum(14))
      .field_int("statusCode", status)
      .field_string("message", message)
      .field_string("error", error)
      .end_object();
  return json.str();
}

void fail(HttpResponse& response, int status, std::string_view error, std::string_view message) {
  response.set_json(status, error_json(status, error, message));
}

const char* zod_type(const Value* v) {
  if (v == nullptr) return "undefined";
  if (v->IsNull()) return "null";
  if (v->IsString()) return "string";
  if (v->IsBool()) return "boolean";
  if (v->IsNumber()) return "number";
  if (v->IsArray()) return "array";
  return "object";
}

const Value* member(const Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> string_member(const Value& object, const char* name) {
  const Value* v = member(object, name);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

// Collects request-validation failures in the shape of a zod error list: the 422
// ValidationFailure answer carries them as a JSON array in `message` (11, 63, 65).
class Issues {
 public:
  // `path_json` is the issue's path as JSON array text, e.g. ["secrets",0,"secretKey"].
  void expect(const Value* v, const char* expected, const std::string& path_json) {
    if (v != nullptr && std::string_view(zod_type(v)) == expected) return;
    json_.begin_object()
        .field_string("code", "invalid_type")
        .field_string("expected", expected)
        .field_string("received", zod_type(v))
        .key("path")
        .raw(path_json)
        .field_string("message", v == nullptr ? std::string("Required")
                                              : std::string("Expected ") + expected +
                                                    ", received " + zod_type(v))
        .end_object();
    ++count_;
  }
  void optional(const Value* v, const char* expected, const std::string& path_json) {
    if (v != nullptr) expect(v, expected, path_json);
  }
  void custom(const std::string& message, const std::string& path_json) {
    json_.begin_object()
        .field_string("code", "custom")
        .field_string("message", message)
        .key("path")
        .raw(path_json)
        .end_object();
    ++count_;
  }
  bool any() const { return count_ > 0; }
  void answer(HttpResponse& response) {
    json_.end_array();
    JsonBuilder body;
    body.begin_object()
        .field_string("reqId", "req-" + random_alnum(14))
        .field_int("statusCode", 422)
        .key("message")
        .raw(json_.str())
        .field_string("error", "ValidationFailure")
        .end_object();
    response.set_json(422, body.str());
  }

  Issues() { json_.begin_array(); }

 private:
  JsonBuilder json_;
  int count_ = 0;
};

void check_secret_name(Issues& issues, const std::string& name, const std::string& path_json) {
  if (name.find(' ') != std::string::npos) {
    issues.custom("Secret name cannot contain spaces.", path_json);
  }
}

std::string base64url_json(const std::string& json) {
  std::string out(sodium_base64_encoded_len(json.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(json.data()),
                    json.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

bool looks_like_jwt(const std::string& token) {
  if (std::count(token.begin(), token.end(), '.') != 2) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

struct FakeInfisical::Impl {
  FakeInfisicalOptions options;
  std::shared_ptr<FakeClock> clock;
  std::map<std::string, Identity> identities;  // by client id
  std::map<std::string, AccessToken> tokens;
  std::map<std::string, Project> projects;  // by id
  std::map<std::string, std::vector<std::string>> history;
  int writes = 0;
  std::atomic<int> route_not_found{0};
  std::function<void()> race_pause;  // set by FakeInfisical: unlock, wait, lock
  std::vector<std::function<void(const WriteEvent&)>> observers;

  InfisicalRateLimits rate;
  std::shared_ptr<const FakeCloudKeys> cloud_keys;
  bool tamper_aws_headers = false;
  std::int64_t rate_window_index = -1;
  std::map<std::string, int> rate_counts;  // by category, in the current window
  std::atomic<int> rate_refused{0};

  TimePoint now() const { return clock->now(); }

  static std::string history_key(const std::string& project, const std::string& env,
                                 const std::string& path, const std::string& name) {
    return project + '\n' + env + '\n' + path + '\n' + name;
  }

  // ---- model --------------------------------------------------------------------

  Environment& add_environment(Project& project, const std::string& slug) {
    Environment& env = project.environments[slug];
    if (env.id.empty()) {
      env.id = random_uuid();
      env.slug = slug;
      env.folders["/"].push_back(Folder{random_uuid(), "root", std::nullopt, now(), std::nullopt});
    }
    return env;
  }

  static const Folder* find_folder(const Environment& env, const std::string& path) {
    auto it = env.folders.find(path);
    return it == env.folders.end() || it->second.empty() ? nullptr : &it->second.front();
  }

  Folder& ensure_folder(Environment& env, const std::string& path) {
    auto it = env.folders.find(path);
    if (it != env.folders.end() && !it->second.empty()) return it->second.front();
    Folder& parent = ensure_folder(env, parent_of(path));
    Folder folder{random_uuid(), path.substr(path.rfind('/') + 1), parent.id, now(), std::nullopt};
    auto& copies = env.folders[path];
    copies.push_back(std::move(folder));
    return copies.back();
  }

  void touch(Environment& env, const std::string& path) {
    for (Folder& copy : env.folders[path]) copy.last_secret_modified = now();
  }

  // The folders a create of `path` must add, top first (nothing when it exists).
  static std::vector<std::string> missing_folders(const Environment& env, std::string path) {
    std::vector<std::string> missing;
    while (path != "/" && find_folder(env, path) == nullptr) {
      missing.insert(missing.begin(), path);
      path = parent_of(path);
    }
    return missing;
  }

  // Inserts `missing` (from missing_folders) without looking again: a create that
  // raced another one adds a second copy, as on the real server. The leaf.
  Folder& insert_folders(Environment& env, const std::vector<std::string>& missing) {
    // (The parent existed when looked at; a delete during the window brings it back.)
    std::string parent_id = ensure_folder(env, parent_of(missing.front())).id;
    Folder* leaf = nullptr;
    for (const auto& path : missing) {
      auto& copies = env.folders[path];
      copies.push_back(
          Folder{random_uuid(), path.substr(path.rfind('/') + 1), parent_id, now(), std::nullopt});
      leaf = &copies.back();
      parent_id = leaf->id;
    }
    return *leaf;
  }

  Secret& store(Project& project, Environment& env, const std::string& path,
                const std::string& name, const std::string& value) {
    auto& folder = env.secrets[path];
    auto it = folder.find(name);
    if (it == folder.end()) {
      Secret fresh;
      fresh.id = random_uuid();
      fresh.version = 1;
      fresh.created = fresh.updated = now();
      it = folder.emplace(name, std::move(fresh)).first;
    } else {
      // Every write makes a version, also with an unchanged value (104).
      ++it->second.version;
      it->second.updated = now();
    }
    it->second.value = value;
    history[history_key(project.id, env.slug, path, name)].push_back(value);
    return it->second;
  }

  void notify(const WriteEvent& event) {
    ++writes;
    for (const auto& observer : observers) observer(event);
  }

  // ---- JSON shapes ----------------------------------------------------------------

  void write_secret(JsonBuilder& json, const Project& project, const Environment& env,
                    const std::string& path, const std::string& name, const Secret& s, Shape shape,
                    const std::string& comment) const {
    json.begin_object()
        .field_string("id", s.id)
        .field_string("_id", s.id)
        .field_string("workspace", project.id)
        .field_string("environment", env.slug)
        .field_int("version", s.version)
        .field_string("type", "shared")
        .field_string("secretKey", name)
        .field_string("secretValue", s.value)
        .field_string("secretComment", comment)
        .field_null("secretReminderNote")
        .field_null("secretReminderRepeatDays")
        .field_bool("skipMultilineEncoding", s.skip_multiline)
        .field_string("createdAt", iso8601_utc(s.created))
        .field_string("updatedAt", iso8601_utc(s.updated));
    if (shape == Shape::Create || shape == Shape::Update || shape == Shape::List) {
      json.field_bool("isRotatedSecret", false).field_null("rotationId");
    }
    if (shape == Shape::List) json.field_string("secretPath", path);
    if (shape != Shape::Create) json.field_bool("secretValueHidden", false);
    auto metadata = [&] {
      json.key("secretMetadata").begin_array();
      for (const auto& [key, value] : s.metadata) {
        json.begin_object().field_string("key", key).field_string("value", value).end_object();
      }
      json.end_array();
    };
    if (shape == Shape::Get) {
      json.key("tags").begin_array().end_array();
      metadata();
    } else if (shape == Shape::List) {
      metadata();
      json.key("tags").begin_array().end_array();
    }
    json.end_object();
  }

  std::string folder_json(const Environment& env, const Folder& folder,
                          const std::optional<std::string>& relative_path = std::nullopt) const {
    JsonBuilder json;
    json.begin_object()
        .field_string("id", folder.id)
        .field_string("name", folder.name)
        .field_int("version", 1)
        .field_string("createdAt", iso8601_utc(folder.created))
        .field_string("updatedAt", iso8601_utc(folder.created))
        .field_string("envId", env.id)
        .field_string_or_null("parentId", folder.parent_id)
        .field_bool("isReserved", false)
        .field_null("description")
        .field_string_or_null(
            "lastSecretModified",
            folder.last_secret_modified
                ? std::optional<std::string>(iso8601_utc(*folder.last_secret_modified))
                : std::nullopt);
    if (relative_path) json.field_string("relativePath", *relative_path);
    json.end_object();
    return json.str();
  }

  std::string approval_json(const Environment& env, const std::string& path) const {
    const auto at = iso8601_utc(now());
    JsonBuilder json;
    json.begin_object()
        .key("approval")
        .begin_object()
        .field_string("id", random_uuid())
        .field_string("policyId", random_uuid())
        .field_bool("hasMerged", false)
        .field_string("status", "open")
        .key("conflicts")
        .begin_array()
        .end_array()
        .field_string("slug", "approval-" + random_alnum(8))
        .field_string("folderId", find_folder(env, path)->id)
        .field_string("createdAt", at)
        .field_string("updatedAt", at)
        .field_bool("isReplicated", false)
        .field_null("committerUserId")
        .field_null("statusChangedByUserId")
        .field_null("bypassReason")
        .end_object()
        .end_object();
    return json.str();
  }

  // ---- auth -------------------------------------------------------------------------

  // The identity (client id) a request authenticates as; nullopt after answering.
  std::optional<std::string> authenticate(const HttpRequest& request, HttpResponse& response) {
    const std::string auth = request.header("Authorization");
    std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : std::string();
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (token.empty()) {
      fail(response, 401, "UnauthorizedError", "Token missing");
      return std::nullopt;
    }
    const AccessToken* t = check_token(token, response);
    if (t == nullptr) return std::nullopt;
    if (t->deleted) {
      fail(response, 401, "UnauthorizedError", "No identity access token found");  // 151
      return std::nullopt;
    }
    if (t->revoked) {
      fail(response, 401, "UnauthorizedError", "Failed to authorize revoked access token");
      return std::nullopt;
    }
    return t->client_id;
  }

  // Signature and expiry, as the JWT library reports them (26, 28).
  const AccessToken* check_token(const std::string& token, HttpResponse& response) {
    if (!looks_like_jwt(token)) {
      fail(response, 403, "TokenError", kMalformedToken);
      return nullptr;
    }
    auto it = tokens.find(token);
    if (it == tokens.end()) {
      fail(response, 403, "TokenError", "invalid signature");
      return nullptr;
    }
    if (now() >= it->second.issued + it->second.ttl) {
      fail(response, 403, "TokenError", "Your token has expired. Please re-authenticate.");
      return nullptr;
    }
    return &it->second;
  }

  std::string issue_token(const std::string& client_id, const Identity& identity,
                          TimePoint chain_start) {
    const auto issued = now();
    const auto iat =
        std::chrono::duration_cast<std::chrono::seconds>(issued.time_since_epoch()).count();
    JsonBuilder payload;
    payload.begin_object()
        .field_string("identityId", identity.id)
        .field_string("identityAccessTokenId", random_uuid())
        .field_string("authTokenType", "identityAccessToken")
        .field_int("iat", iat)
        .field_int("exp", iat + identity.ttl.count())
        .end_object();
    const std::string token = base64url_json(R"({"alg":"HS256","typ":"JWT"})") + "." +
                              base64url_json(payload.str()) + "." + random_base64url(32);
    tokens[token] =
        AccessToken{client_id, issued, chain_start, identity.ttl, identity.max_ttl, false};
    return token;
  }

  void token_answer(HttpResponse& response, const std::string& token, const Identity& identity) {
    JsonBuilder json;
    json.begin_object()
        .field_string("accessToken", token)
        .field_int("expiresIn", identity.ttl.count())
        .field_int("accessTokenMaxTTL", identity.max_ttl.count())
        .field_string("tokenType", "Bearer")
        .end_object();
    response.set_json(200, json.str());
  }

  void login(const Value& body, HttpResponse& response) {
    Issues issues;
    issues.expect(member(body, "clientId"), "string", R"(["clientId"])");
    issues.expect(member(body, "clientSecret"), "string", R"(["clientSecret"])");
    if (issues.any()) return issues.answer(response);
    const std::string client_id = *string_member(body, "clientId");
    auto it = identities.find(client_id);
    if (it == identities.end()) {
      return fail(response, 404, "NotFound", "No identity with specified client ID was found");
    }
    Identity& identity = it->second;
    const auto t = now();
    if (identity.locked_until && t < *identity.locked_until) {
      const auto left =
          std::chrono::duration_cast<std::chrono::seconds>(*identity.locked_until - t).count();
      return fail(response, 401, "UnauthorizedError",
                  "Identity is temporarily locked due to too many failed login attempts. Try "
                  "again in " +
                      std::to_string((left + 59) / 60) + " minute(s).");
    }
    if (*string_member(body, "clientSecret") != identity.client_secret) {
      const LockoutPolicy& policy = options.lockout;
      std::erase_if(identity.failures, [&](TimePoint f) { return t - f >= policy.window; });
      identity.failures.push_back(t);
      if (policy.max_failures > 0 &&
          static_cast<int>(identity.failures.size()) >= policy.max_failures) {
        identity.locked_until = t + policy.duration;
        identity.failures.clear();
      }
      return fail(response, 401, "UnauthorizedError", "Invalid credentials");
    }
    identity.failures.clear();
    token_answer(response, issue_token(client_id, identity, t), identity);
  }

  // A cloud-identity login: the identity must have the method, and the proof must hold.
  void cloud_login(const std::string& method, Value& body, HttpResponse& response) {
    Issues issues;
    issues.expect(member(body, "identityId"), "string", R"(["identityId"])");
    if (issues.any()) return issues.answer(response);
    const std::string id = *string_member(body, "identityId");
    auto it = std::find_if(identities.begin(), identities.end(),
                           [&](const auto& kv) { return kv.second.id == id; });
    if (it == identities.end() || !it->second.cloud_methods.count(method) || !cloud_keys) {
      return fail(
          response, 404, "NotFound",
          "Identity with ID " + id + " has no " + method + " configured");  // [guess] wording
    }
    if (method == "aws-auth" && tamper_aws_headers) tamper_headers(body);
    const std::string why = verify_cloud_login(*cloud_keys, method, body, id, now());
    if (!why.empty()) return fail(response, 401, "UnauthorizedError", "Access denied: " + why);
    token_answer(response, issue_token(it->first, it->second, now()), it->second);
  }

  // Rewrites the signed Content-Type inside iamRequestHeaders.
  void tamper_headers(Value& body) {
    auto& v = body["iamRequestHeaders"];
    std::string in = v.IsString() ? v.GetString() : "";
    std::string json(in.size() + 1, '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(json.data()), json.size(), in.data(),
                          in.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
      return;
    json.resize(len);
    const std::string from = "charset=utf-8", to = "charset=latin1";
    if (auto pos = json.find(from); pos != std::string::npos) json.replace(pos, from.size(), to);
    std::string out(sodium_base64_encoded_len(json.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(json.data()),
                      json.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    tampered_storage = out;
    v.SetString(rapidjson::StringRef(tampered_storage.c_str(), tampered_storage.size()));
  }
  std::string tampered_storage;

  void renew(const Value& body, HttpResponse& response) {
    Issues issues;
    issues.expect(member(body, "accessToken"), "string", R"(["accessToken"])");
    if (issues.any()) return issues.answer(response);
    const std::string sent = *string_member(body, "accessToken");
    const AccessToken* old = check_token(sent, response);
    if (old == nullptr) return;
    auto id = identities.find(old->client_id);
    if (old->deleted) {
      return fail(response, 401, "UnauthorizedError", "No identity access token found");
    }
    if (old->revoked || id == identities.end()) {
      return fail(response, 401, "UnauthorizedError", "Failed to authorize revoked access token");
    }
    // Mirrors the server: renewal may not reach past creation + max TTL (0 = no
    // cap); with TTL == max TTL (the default) every renewal fails (107, 150). The
    // refused renewal deletes the token, still valid as it was (151).
    if (old->max_ttl.count() > 0) {
      const TimePoint limit = old->chain_start + old->max_ttl;
      const char* refusal = now() > limit
                                ? "Failed to renew MI access token due to Max TTL expiration"
                            : now() + old->ttl >= limit
                                ? "Failed to renew MI access token past its Max TTL expiration"
                                : nullptr;
      if (refusal != nullptr) {
        tokens[sent].deleted = true;
        return fail(response, 401, "UnauthorizedError", refusal);
      }
    }
    const AccessToken copy = *old;
    token_answer(response, issue_token(copy.client_id, id->second, copy.chain_start), id->second);
  }

  void revoke(const Value& body, HttpResponse& response) {
    Issues issues;
    issues.expect(member(body, "accessToken"), "string", R"(["accessToken"])");
    if (issues.any()) return issues.answer(response);
    auto it = tokens.find(*string_member(body, "accessToken"));
    if (!looks_like_jwt(*string_member(body, "accessToken"))) {
      return fail(response, 403, "TokenError", kMalformedToken);
    }
    if (it == tokens.end()) return fail(response, 403, "TokenError", "invalid signature");
    it->second.revoked = true;
    response.set_json(200, R"({"message":"Successfully revoked access token"})");
  }

  // ---- scope: project, membership, environment, folder ------------------------------

  struct Scope {
    Project* project = nullptr;
    Environment* env = nullptr;  // null when the environment does not exist
    const ProjectRole* role = nullptr;
    std::string env_slug;
    std::string path = "/";
    bool folder_exists = false;
  };

  // Project lookup and membership; answers and returns false on failure.
  bool resolve(const std::string& client_id, const std::optional<std::string>& project_id,
               const std::optional<std::string>& slug, const std::string& env_slug,
               const std::string& path, Scope& scope, HttpResponse& response) {
    if (project_id) {
      auto it = projects.find(*project_id);
      if (it != projects.end()) scope.project = &it->second;
    } else if (slug) {
      for (auto& [id, project] : projects) {
        if (project.slug == *slug) scope.project = &project;
      }
    }
    if (scope.project == nullptr) {
      if (project_id) {
        fail(response, 404, "NotFound",
             "Project with ID '" + *project_id +
                 "' not found during bot lookup. Are you sure you are using the correct "
                 "project ID?");
      } else {
        fail(response, 404, "NotFound", "Project with slug '" + slug.value_or("") + "' not found");
      }
      return false;
    }
    auto member_it = scope.project->members.find(client_id);
    if (member_it == scope.project->members.end()) {
      fail(response, 403,
           "Identity is not a member of the specified project with ID '" + scope.project->id + "'",
           "You are not allowed to access this resource");
      return false;
    }
    scope.role = &member_it->second;
    scope.env_slug = env_slug;
    scope.path = normalize_path(path);
    auto env = scope.project->environments.find(env_slug);
    if (env != scope.project->environments.end()) {
      scope.env = &env->second;
      scope.folder_exists = find_folder(*scope.env, scope.path) != nullptr;
    }
    return true;
  }

  static void folder_missing(const Scope& scope, const char* error, HttpResponse& response) {
    fail(response, 404, error,
         "Folder with path '" + scope.path + "' in environment with slug '" + scope.env_slug +
             "' not found");
  }

  bool needs_approval(const Scope& scope) const {
    return scope.env != nullptr && scope.env->approval_paths.count(scope.path) > 0;
  }

  // ---- permissions (119-131) ----------------------------------------------------------

  static bool rule_allows(const ProjectRole& role, const std::string& env,
                          const std::string& path) {
    return std::any_of(role.rules.begin(), role.rules.end(), [&](const RoleRule& r) {
      return r.environment == env && glob_match(r.path_glob, path);
    });
  }
  static bool may_read(const Scope& scope, const std::string& path) {
    return scope.role->kind != ProjectRole::Kind::Custom ||
           rule_allows(*scope.role, scope.env_slug, path);
  }
  static bool may_write(const Scope& scope, const std::string& path) {
    if (scope.role->kind == ProjectRole::Kind::Admin) return true;
    return scope.role->kind == ProjectRole::Kind::Custom &&
           rule_allows(*scope.role, scope.env_slug, path);
  }
  // 403 with the role's rules for `subject` in `details` (empty for the viewer).
  static void permission_denied(const Scope& scope, const std::string& action,
                                const std::string& subject, HttpResponse& response) {
    JsonBuilder json;
    json.begin_object()
        .field_string("reqId", "req-" + random_alnum(14))
        .field_int("statusCode", 403)
        .field_string("message", "You are not allowed to " + action + " on " + subject)
        .key("details")
        .begin_array();
    if (scope.role->kind == ProjectRole::Kind::Custom) {
      for (const RoleRule& rule : scope.role->rules) {
        json.begin_object().key("action").begin_array();
        for (const char* a : {"read", "create", "edit", "delete"}) json.string(a);
        json.end_array().field_bool("inverted", false).key("subject").begin_array();
        json.string(subject).end_array().key("conditions").begin_object();
        if (!rule.path_glob.empty()) {
          json.key("secretPath").begin_object().field_string("$glob", rule.path_glob).end_object();
        }
        json.field_string("environment", rule.environment).end_object().end_object();
      }
    }
    json.end_array().field_string("error", "PermissionDenied").end_object();
    response.set_json(403, json.str());
  }

  // ---- secrets ---------------------------------------------------------------------

  void list(const std::string& client_id, const HttpRequest& request, HttpResponse& response) {
    const auto project_id =
        request.param("workspaceId") ? request.param("workspaceId") : request.param("projectId");
    const auto slug = request.param("workspaceSlug");
    const auto env = request.param("environment");
    if ((!project_id && !slug) || !env) {
      return fail(response, 400, "BadRequest", "Missing workspace id or environment");
    }
    Scope scope;
    if (!resolve(client_id, project_id, slug, *env, request.param("secretPath").value_or("/"),
                 scope, response)) {
      return;
    }
    if (!valid_path(scope.path)) return fail(response, 400, "BadRequest", kInvalidPath);
    const bool recursive = request.param("recursive").value_or("false") == "true";
    JsonBuilder json;
    json.begin_object().key("secrets").begin_array();
    // A missing folder, an unknown environment (110) and a path the role may not read
    // (124, 127) all list as empty; a recursive list leaves out what it may not read (128).
    static const std::map<std::string, std::map<std::string, Secret>> kNone;
    for (const auto& [path, secrets] : scope.env ? scope.env->secrets : kNone) {
      const bool below =
          path == scope.path ||
          (recursive && (scope.path == "/" ? true : path.rfind(scope.path + "/", 0) == 0));
      if (!below || !may_read(scope, path)) continue;
      for (const auto& [name, s] : secrets) {
        write_secret(json, *scope.project, *scope.env, path, name, s, Shape::List, s.comment);
      }
    }
    json.end_array().key("imports").begin_array().end_array().end_object();
    response.set_json(200, json.str());
  }

  void get(const std::string& client_id, const std::string& name, const HttpRequest& request,
           HttpResponse& response) {
    const auto project_id =
        request.param("workspaceId") ? request.param("workspaceId") : request.param("projectId");
    const auto slug = request.param("workspaceSlug");
    if (!project_id && !slug) {
      return fail(response, 400, "BadRequest", "You must provide workspaceSlug or workspaceId");
    }
    const auto env = request.param("environment");
    if (!env) return fail(response, 400, "BadRequest", "Missing workspace id or environment");
    Scope scope;
    if (!resolve(client_id, project_id, slug, *env, request.param("secretPath").value_or("/"),
                 scope, response)) {
      return;
    }
    if (!scope.folder_exists) return folder_missing(scope, "GetSecretByName", response);
    const auto& secrets = scope.env->secrets[scope.path];
    auto it = secrets.find(name);
    if (it == secrets.end()) {
      return fail(response, 404, "NotFound", "Secret with name '" + name + "' not found");
    }
    JsonBuilder json;
    json.begin_object().key("secret");
    write_secret(json, *scope.project, *scope.env, scope.path, name, it->second, Shape::Get,
                 it->second.comment);
    response.set_json(200, json.end_object().str());
  }

  static SecretMetadata parse_metadata(const Value& list) {
    SecretMetadata metadata;
    for (const Value& entry : list.GetArray()) {
      auto key = string_member(entry, "key");
      auto value = string_member(entry, "value");
      if (key) metadata.emplace_back(*key, value.value_or(""));
    }
    return metadata;
  }

  static void check_metadata(Issues& issues, const Value* list, const std::string& prefix) {
    issues.optional(list, "array", prefix + R"("secretMetadata"])");
    if (list == nullptr || !list->IsArray()) return;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const std::string at = prefix + R"("secretMetadata",)" + std::to_string(i) + ",";
      issues.expect(member((*list)[i], "key"), "string", at + R"("key"])");
      issues.optional(member((*list)[i], "value"), "string", at + R"("value"])");
    }
  }

  // Common body checks of the single-secret writes; the scope on success.
  bool single_write_scope(const std::string& client_id, const std::string& name, const Value& body,
                          bool value_required, bool check_name, Scope& scope,
                          HttpResponse& response) {
    Issues issues;
    const Value* workspace = member(body, "workspaceId");
    if (workspace == nullptr) workspace = member(body, "projectId");
    issues.expect(workspace, "string", R"(["workspaceId"])");
    issues.expect(member(body, "environment"), "string", R"(["environment"])");
    issues.optional(member(body, "secretPath"), "string", R"(["secretPath"])");
    if (value_required) {
      issues.expect(member(body, "secretValue"), "string", R"(["secretValue"])");
    } else {
      issues.optional(member(body, "secretValue"), "string", R"(["secretValue"])");
    }
    issues.optional(member(body, "secretComment"), "string", R"(["secretComment"])");
    check_metadata(issues, member(body, "secretMetadata"), "[");
    if (check_name) check_secret_name(issues, name, R"(["secretName"])");
    if (issues.any()) {
      issues.answer(response);
      return false;
    }
    return resolve(client_id, std::string(workspace->GetString()), std::nullopt,
                   *string_member(body, "environment"),
                   string_member(body, "secretPath").value_or("/"), scope, response);
  }

  void apply_fields(Secret& s, const Value& fields) {
    if (auto comment = string_member(fields, "secretComment")) s.comment = *comment;
    if (const Value* m = member(fields, "secretMetadata")) s.metadata = parse_metadata(*m);
    if (const Value* skip = member(fields, "skipMultilineEncoding"); skip && skip->IsBool()) {
      s.skip_multiline = skip->GetBool();
    }
  }

  void create(const std::string& client_id, const std::string& name, const Value& body,
              HttpResponse& response) {
    Scope scope;
    if (!single_write_scope(client_id, name, body, true, true, scope, response)) return;
    if (!scope.folder_exists) return folder_missing(scope, "CreateSecret", response);
    if (needs_approval(scope)) return response.set_json(200, approval_json(*scope.env, scope.path));
    if (scope.env->secrets[scope.path].count(name) > 0) {
      return fail(response, 400, "BadRequest", "Secret already exist");
    }
    Secret& s = store(*scope.project, *scope.env, scope.path, name,
                      trim_value(*string_member(body, "secretValue")));
    apply_fields(s, body);
    touch(*scope.env, scope.path);
    notify({"inf.create", scope.project->id, scope.env->slug, scope.path, {{name, s.value}}, {}});
    JsonBuilder json;
    json.begin_object().key("secret");
    write_secret(json, *scope.project, *scope.env, scope.path, name, s, Shape::Create, s.comment);
    response.set_json(200, json.end_object().str());
  }

  void update(const std::string& client_id, const std::string& name, const Value& body,
              HttpResponse& response) {
    Scope scope;
    if (!single_write_scope(client_id, name, body, false, false, scope, response)) return;
    if (!scope.folder_exists) return folder_missing(scope, "UpdateSecret", response);
    if (needs_approval(scope)) return response.set_json(200, approval_json(*scope.env, scope.path));
    auto& secrets = scope.env->secrets[scope.path];
    auto it = secrets.find(name);
    if (it == secrets.end()) {
      return fail(response, 404, "NotFound", "Secret with name " + name + " not found");
    }
    const std::string value = string_member(body, "secretValue")
                                  ? trim_value(*string_member(body, "secretValue"))
                                  : it->second.value;
    Secret& s = store(*scope.project, *scope.env, scope.path, name, value);
    apply_fields(s, body);
    touch(*scope.env, scope.path);
    notify({"inf.update", scope.project->id, scope.env->slug, scope.path, {{name, s.value}}, {}});
    JsonBuilder json;
    json.begin_object().key("secret");
    // The update answer shows only the comment sent with it (22).
    write_secret(json, *scope.project, *scope.env, scope.path, name, s, Shape::Update,
                 string_member(body, "secretComment").value_or(""));
    response.set_json(200, json.end_object().str());
  }

  void remove(const std::string& client_id, const std::string& name, const Value& body,
              HttpResponse& response) {
    Scope scope;
    if (!single_write_scope(client_id, name, body, false, false, scope, response)) return;
    if (!scope.folder_exists) return folder_missing(scope, "DeleteSecret", response);
    if (needs_approval(scope)) return response.set_json(200, approval_json(*scope.env, scope.path));
    auto& secrets = scope.env->secrets[scope.path];
    auto it = secrets.find(name);
    if (it == secrets.end()) return fail(response, 404, "NotFound", "Secret not found");
    const Secret gone = it->second;
    secrets.erase(it);
    touch(*scope.env, scope.path);
    notify({"inf.delete", scope.project->id, scope.env->slug, scope.path, {}, {name}});
    JsonBuilder json;
    json.begin_object().key("secret");
    write_secret(json, *scope.project, *scope.env, scope.path, name, gone, Shape::Delete,
                 gone.comment);
    response.set_json(200, json.end_object().str());
  }

  // POST (create), PATCH (update; "mode":"upsert" creates too), DELETE.
  void batch(const std::string& client_id, const std::string& endpoint, const Value& body,
             HttpResponse& response) {
    const bool creating = endpoint == "inf.batch_create";
    const bool deleting = endpoint == "inf.batch_delete";
    Issues issues;
    const Value* workspace = member(body, "workspaceId");
    if (workspace == nullptr) workspace = member(body, "projectId");
    issues.expect(workspace, "string", R"(["workspaceId"])");
    issues.expect(member(body, "environment"), "string", R"(["environment"])");
    issues.optional(member(body, "secretPath"), "string", R"(["secretPath"])");
    issues.optional(member(body, "mode"), "string", R"(["mode"])");
    const Value* list = member(body, "secrets");
    issues.expect(list, "array", R"(["secrets"])");
    if (list != nullptr && list->IsArray()) {
      if (list->Empty())
        issues.custom("Array must contain at least 1 element(s)", R"(["secrets"])");
      for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        const Value& entry = (*list)[i];
        const std::string at = R"(["secrets",)" + std::to_string(i) + ",";
        issues.expect(member(entry, "secretKey"), "string", at + R"("secretKey"])");
        if (creating) {
          issues.expect(member(entry, "secretValue"), "string", at + R"("secretValue"])");
        } else if (!deleting) {
          issues.optional(member(entry, "secretValue"), "string", at + R"("secretValue"])");
        }
        if (!deleting) check_metadata(issues, member(entry, "secretMetadata"), at);
        if (auto key = string_member(entry, "secretKey"); key && creating) {
          check_secret_name(issues, *key, at + R"("secretKey"])");
        }
      }
    }
    const auto mode = string_member(body, "mode").value_or("failOnNotFound");
    if (!deleting && !creating && mode != "upsert" && mode != "failOnNotFound") {
      issues.custom(
          "Invalid enum value. Expected 'upsert' | 'failOnNotFound', received '" + mode + "'",
          R"(["mode"])");
    }
    if (issues.any()) return issues.answer(response);

    Scope scope;
    if (!resolve(client_id, std::string(workspace->GetString()), std::nullopt,
                 *string_member(body, "environment"),
                 string_member(body, "secretPath").value_or("/"), scope, response)) {
      return;
    }
    if (scope.env == nullptr) {
      return fail(response, 404, "NotFound",
                  "Environment with slug '" + scope.env_slug + "' in project with ID '" +
                      scope.project->id + "' not found");
    }
    if (!valid_path(scope.path)) {
      return fail(response, 500, "FindByManySecretPath", "Something went wrong");  // 118
    }
    // The folder check comes before the permission check (122).
    if (!scope.folder_exists) return fail(response, 404, "NotFound", "Folder not found");
    if (!may_write(scope, scope.path)) {
      // The first secret decides the action named (120, 121, 125, 129).
      const bool exists =
          scope.env->secrets[scope.path].count(*string_member((*list)[0], "secretKey")) > 0;
      const char* action = deleting ? "delete" : creating || !exists ? "create" : "edit";
      return permission_denied(scope, action, "secrets", response);
    }
    if (needs_approval(scope)) return response.set_json(200, approval_json(*scope.env, scope.path));

    auto& secrets = scope.env->secrets[scope.path];
    std::vector<std::string> clash;
    for (const Value& entry : list->GetArray()) {
      const std::string key = *string_member(entry, "secretKey");
      const bool exists = secrets.count(key) > 0;
      if (creating ? exists : (!exists && (deleting || mode != "upsert"))) clash.push_back(key);
    }
    auto names = [&clash] {
      std::string joined;
      for (const auto& n : clash) joined += (joined.empty() ? "" : ",") + n;
      return joined;
    };
    if (!clash.empty()) {
      if (creating) return fail(response, 400, "BadRequest", "Secret already exist: " + names());
      return fail(response, 404, "NotFound",
                  "Secret does not exist: " + names() + " in path " + scope.path);
    }

    WriteEvent event{endpoint, scope.project->id, scope.env->slug, scope.path, {}, {}};
    JsonBuilder json;
    json.begin_object().key("secrets").begin_array();
    for (const Value& entry : list->GetArray()) {
      const std::string key = *string_member(entry, "secretKey");
      if (deleting) {
        const Secret gone = secrets.at(key);
        secrets.erase(key);
        event.deleted.push_back(key);
        write_secret(json, *scope.project, *scope.env, scope.path, key, gone, Shape::Delete,
                     gone.comment);
        continue;
      }
      auto existing = secrets.find(key);
      const auto sent = string_member(entry, "secretValue");
      const std::string value = sent                        ? trim_value(*sent)
                                : existing != secrets.end() ? existing->second.value
                                                            : std::string();
      Secret& s = store(*scope.project, *scope.env, scope.path, key, value);
      apply_fields(s, entry);
      event.written.emplace_back(key, s.value);
      write_secret(json, *scope.project, *scope.env, scope.path, key, s, Shape::Update,
                   string_member(entry, "secretComment").value_or(""));
    }
    json.end_array().end_object();
    notify(event);
    response.set_json(200, json.str());
  }

  // ---- folders --------------------------------------------------------------------

  void folder_create(const std::string& client_id, const std::string& target, const Value& body,
                     HttpResponse& response) {
    const bool v2 = target.rfind("/api/v2/", 0) == 0;
    Issues issues;
    const Value* workspace = member(body, v2 ? "projectId" : "workspaceId");
    if (workspace == nullptr) workspace = member(body, v2 ? "workspaceId" : "projectId");
    issues.expect(workspace, "string", v2 ? R"(["projectId"])" : R"(["workspaceId"])");
    issues.expect(member(body, "environment"), "string", R"(["environment"])");
    issues.expect(member(body, "name"), "string", R"(["name"])");
    issues.optional(member(body, "path"), "string", R"(["path"])");
    const auto name = string_member(body, "name");
    if (name && (name->empty() ||
                 name->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                         "KLMNOPQRSTUVWXYZ0123456789-_") != std::string::npos)) {
      issues.custom(
          "Invalid folder name. Only alphanumeric characters, dashes, and underscores are allowed.",
          R"(["name"])");  // 116
    }
    if (issues.any()) return issues.answer(response);
    Scope scope;
    const std::string env_slug = *string_member(body, "environment");
    if (!resolve(client_id, std::string(workspace->GetString()), std::nullopt, env_slug,
                 string_member(body, "path").value_or("/"), scope, response)) {
      return;
    }
    if (!valid_path(scope.path)) return fail(response, 400, "BadRequest", kInvalidPath);  // 117
    if (scope.env == nullptr) {
      return fail(response, 404, "NotFound",
                  "Environment with slug '" + env_slug + "' in project with ID '" +
                      scope.project->id + "' not found");
    }
    if (!may_write(scope, scope.path)) {
      return permission_denied(scope, "create", "secret-folders", response);  // 123, 126, 131
    }
    // Creates missing parents too, and answers the existing folder when it is
    // already there (43, 45, 139). Not atomic: look, wait, insert (132-147).
    const std::string path = join_path(scope.path, *name);
    const std::vector<std::string> missing = missing_folders(*scope.env, path);
    if (!missing.empty() && race_pause) race_pause();
    const Folder& folder =
        missing.empty() ? *find_folder(*scope.env, path) : insert_folders(*scope.env, missing);
    JsonBuilder json;
    json.begin_object().key("folder").raw(folder_json(*scope.env, folder)).end_object();
    response.set_json(200, json.str());
  }

  // DELETE /api/v1/folders/{name} {workspaceId, environment, path}: removes every copy
  // of the folder, with what is below it, and answers with the oldest copy (163, 164).
  void folder_delete(const std::string& client_id, const std::string& name, const Value& body,
                     HttpResponse& response) {
    Issues issues;
    const Value* workspace = member(body, "workspaceId");
    if (workspace == nullptr) workspace = member(body, "projectId");
    issues.expect(workspace, "string", R"(["workspaceId"])");
    issues.expect(member(body, "environment"), "string", R"(["environment"])");
    issues.optional(member(body, "path"), "string", R"(["path"])");
    if (issues.any()) return issues.answer(response);
    Scope scope;
    const std::string env_slug = *string_member(body, "environment");
    if (!resolve(client_id, std::string(workspace->GetString()), std::nullopt, env_slug,
                 string_member(body, "path").value_or("/"), scope, response)) {
      return;
    }
    if (scope.env == nullptr) {
      return fail(response, 404, "NotFound",
                  "Environment with slug '" + env_slug + "' in project with ID '" +
                      scope.project->id + "' not found");
    }
    const std::string path = join_path(scope.path, name);
    const Folder* found = find_folder(*scope.env, path);
    if (found == nullptr) {
      return fail(response, 404, "NotFound", "Folder with path '" + path + "' not found");
    }
    if (!may_write(scope, scope.path)) {
      return permission_denied(scope, "delete", "secret-folders", response);
    }
    JsonBuilder json;
    json.begin_object().key("folder").raw(folder_json(*scope.env, *found)).end_object();
    std::erase_if(scope.env->folders, [&](const auto& entry) {
      return entry.first == path || entry.first.rfind(path + "/", 0) == 0;
    });
    std::erase_if(scope.env->secrets, [&](const auto& entry) {
      return entry.first == path || entry.first.rfind(path + "/", 0) == 0;
    });
    response.set_json(200, json.str());
  }

  void folder_list(const std::string& client_id, const HttpRequest& request,
                   HttpResponse& response) {
    const auto project_id =
        request.param("workspaceId") ? request.param("workspaceId") : request.param("projectId");
    const auto env = request.param("environment");
    if (!project_id || !env) {
      Issues issues;
      if (!project_id) issues.expect(nullptr, "string", R"(["workspaceId"])");
      if (!env) issues.expect(nullptr, "string", R"(["environment"])");
      return issues.answer(response);
    }
    Scope scope;
    if (!resolve(client_id, project_id, std::nullopt, *env,
                 request.param("path").value_or(request.param("directory").value_or("/")), scope,
                 response)) {
      return;
    }
    if (!valid_path(scope.path)) return fail(response, 400, "BadRequest", kInvalidPath);  // 115
    if (scope.env == nullptr) {
      return fail(response, 404, "NotFound", "Environment with slug '" + *env + "' not found");
    }
    const bool recursive = request.param("recursive").value_or("false") == "true";
    JsonBuilder json;
    json.begin_object().key("folders").begin_array();
    // The children of the oldest copy only (135, 138); from "/" every copy is a child
    // of the root, so a recursive list from there shows them all (147). Recursive
    // entries carry their path relative to the listed one (156).
    std::vector<std::pair<std::string, std::string>> parents;  // folder id, path
    if (const Folder* start = find_folder(*scope.env, scope.path)) {
      parents.emplace_back(start->id, scope.path);
    }
    while (!parents.empty()) {
      const auto [parent_id, parent_path] = parents.front();
      parents.erase(parents.begin());
      for (const auto& [path, copies] : scope.env->folders) {
        if (path == "/" || parent_of(path) != parent_path) continue;
        for (const Folder& folder : copies) {
          if (folder.parent_id != parent_id) continue;
          if (!recursive) {
            json.raw(folder_json(*scope.env, folder, std::nullopt));
            continue;
          }
          json.raw(folder_json(*scope.env, folder,
                               path.substr(scope.path == "/" ? 0 : scope.path.size())));
          parents.emplace_back(folder.id, path);
        }
      }
    }
    json.end_array().end_object();
    response.set_json(200, json.str());
  }

  // ---- rate limit -------------------------------------------------------------------

  // Which limit besides the global one a request counts against (see InfisicalRateLimits).
  static const char* rate_category(const std::string& endpoint, const std::string& method) {
    static const std::set<std::string> kSecretRoutes = {
        "inf.list",   "inf.list_recursive", "inf.get",          "inf.create",      "inf.update",
        "inf.delete", "inf.upsert",         "inf.batch_create", "inf.batch_delete"};
    if (kSecretRoutes.count(endpoint) != 0) return "secret";
    return method == "GET" ? "read" : "write";
  }

  int rate_limit_of(const std::string& category) const {
    if (category == "global") return rate.global;
    if (category == "read") return rate.read;
    if (category == "write") return rate.write;
    return rate.secret;
  }

  // Fixed windows: a refused request still counts (as on a real fixed-window limiter, where
  // hammering the limit does not get a client in sooner, nor later).
  bool rate_limited(const std::string& endpoint, const std::string& method,
                    HttpResponse& response) {
    if (!rate.any()) return false;
    const std::int64_t window_ms = std::max<std::int64_t>(1, rate.window.count());
    const std::int64_t now_ms = clock->now_epoch_ms();
    const std::int64_t index = now_ms / window_ms;
    if (index != rate_window_index) {
      rate_window_index = index;
      rate_counts.clear();
    }
    bool over = false;
    for (const char* category : {"global", rate_category(endpoint, method)}) {
      const int limit = rate_limit_of(category);
      if (++rate_counts[category] > limit && limit > 0) over = true;
    }
    if (!over) return false;
    ++rate_refused;
    const std::int64_t wait_s =
        std::max<std::int64_t>(1, ((index + 1) * window_ms - now_ms + 999) / 1000);
    fail(response, 429, "RateLimitExceeded",
         "Rate limit exceeded. Please try again in " + std::to_string(wait_s) + " seconds");
    if (rate.retry_after_header) {
      response.headers.emplace_back("retry-after", std::to_string(wait_s));
    }
    return true;
  }
};

// ---- FakeInfisical ------------------------------------------------------------------

FakeInfisical::FakeInfisical(FakeInfisicalOptions options, std::shared_ptr<FakeClock> clock,
                             std::shared_ptr<std::recursive_mutex> state_mutex)
    : FakeServer(options.server, std::move(clock), std::move(state_mutex),
                 "application/json; charset=utf-8"),
      impl_(std::make_unique<Impl>()) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot initialise");
  impl_->options = std::move(options);
  impl_->clock = shared_clock();
  impl_->race_pause = [this] {
    const auto window = impl_->options.folder_race_window;
    if (window.count() <= 0) return;
    // handle() holds the state lock once; give it up while "between the queries".
    this->state_mutex().unlock();
    std::this_thread::sleep_for(window);
    this->state_mutex().lock();
  };
}

FakeInfisical::~FakeInfisical() {
  stop();
}

void FakeInfisical::add_identity(const std::string& client_id, const std::string& client_secret,
                                 std::chrono::seconds access_token_ttl,
                                 std::chrono::seconds access_token_max_ttl) {
  std::lock_guard lock(state_mutex());
  Identity& identity = impl_->identities[client_id];
  identity.id = random_uuid();
  identity.client_secret = client_secret;
  identity.ttl = access_token_ttl;
  identity.max_ttl = access_token_max_ttl;
}

void FakeInfisical::add_project(const std::string& project_id, const std::string& slug,
                                const std::vector<std::string>& environments) {
  std::lock_guard lock(state_mutex());
  Project& project = impl_->projects[project_id];
  project.id = project_id;
  project.slug = slug;
  for (const auto& env : environments) impl_->add_environment(project, env);
}

void FakeInfisical::add_member(const std::string& project_id, const std::string& client_id,
                               ProjectRole role) {
  std::lock_guard lock(state_mutex());
  impl_->projects.at(project_id).members[client_id] = std::move(role);
}

void FakeInfisical::set_approval_required(const std::string& project_id,
                                          const std::string& environment, const std::string& path,
                                          bool required) {
  std::lock_guard lock(state_mutex());
  Environment& env = impl_->projects.at(project_id).environments.at(environment);
  const std::string normalized = normalize_path(path);
  if (required) {
    impl_->ensure_folder(env, normalized);
    env.approval_paths.insert(normalized);
  } else {
    env.approval_paths.erase(normalized);
  }
}

void FakeInfisical::set_rate_limit(int requests, std::chrono::seconds window,
                                   bool send_retry_after_header) {
  InfisicalRateLimits limits;
  limits.global = requests;
  limits.window = window;
  limits.retry_after_header = send_retry_after_header;
  set_rate_limits(limits);
}

void FakeInfisical::set_rate_limits(const InfisicalRateLimits& limits) {
  std::lock_guard lock(state_mutex());
  impl_->rate = limits;
  impl_->rate_window_index = -1;
}

int FakeInfisical::rate_limited_count() const {
  return impl_->rate_refused.load();
}

void FakeInfisical::set_lockout(LockoutPolicy policy) {
  std::lock_guard lock(state_mutex());
  impl_->options.lockout = policy;
}

void FakeInfisical::expire_all_tokens() {
  std::lock_guard lock(state_mutex());
  for (auto& [token, t] : impl_->tokens) t.ttl = std::chrono::seconds(0);
}

std::optional<StoredSecret> FakeInfisical::secret(const std::string& project_id,
                                                  const std::string& environment,
                                                  const std::string& path,
                                                  const std::string& name) const {
  std::lock_guard lock(state_mutex());
  auto project = impl_->projects.find(project_id);
  if (project == impl_->projects.end()) return std::nullopt;
  auto env = project->second.environments.find(environment);
  if (env == project->second.environments.end()) return std::nullopt;
  auto folder = env->second.secrets.find(normalize_path(path));
  if (folder == env->second.secrets.end()) return std::nullopt;
  auto it = folder->second.find(name);
  if (it == folder->second.end()) return std::nullopt;
  StoredSecret out{it->second.value, it->second.version, {}, it->second.comment};
  for (const auto& [key, value] : it->second.metadata) out.metadata[key] = value;
  return out;
}

void FakeInfisical::put_secret(const std::string& project_id, const std::string& environment,
                               const std::string& path, const std::string& name,
                               const std::string& value, const SecretMetadata& metadata) {
  std::lock_guard lock(state_mutex());
  Project& project = impl_->projects.at(project_id);
  Environment& env = project.environments.at(environment);
  const std::string normalized = normalize_path(path);
  impl_->ensure_folder(env, normalized);
  Secret& s = impl_->store(project, env, normalized, name, trim_value(value));
  s.metadata = metadata;
}

std::vector<std::string> FakeInfisical::versions(const std::string& project_id,
                                                 const std::string& environment,
                                                 const std::string& path,
                                                 const std::string& name) const {
  std::lock_guard lock(state_mutex());
  auto it =
      impl_->history.find(Impl::history_key(project_id, environment, normalize_path(path), name));
  return it == impl_->history.end() ? std::vector<std::string>() : it->second;
}

bool FakeInfisical::folder_exists(const std::string& project_id, const std::string& environment,
                                  const std::string& path) const {
  std::lock_guard lock(state_mutex());
  auto project = impl_->projects.find(project_id);
  if (project == impl_->projects.end()) return false;
  auto env = project->second.environments.find(environment);
  return env != project->second.environments.end() &&
         Impl::find_folder(env->second, normalize_path(path)) != nullptr;
}

int FakeInfisical::folder_copies(const std::string& project_id, const std::string& environment,
                                 const std::string& path) const {
  std::lock_guard lock(state_mutex());
  auto project = impl_->projects.find(project_id);
  if (project == impl_->projects.end()) return 0;
  auto env = project->second.environments.find(environment);
  if (env == project->second.environments.end()) return 0;
  auto copies = env->second.folders.find(normalize_path(path));
  return copies == env->second.folders.end() ? 0 : static_cast<int>(copies->second.size());
}

int FakeInfisical::route_not_found_count() const {
  return impl_->route_not_found.load();
}

void FakeInfisical::put_folder(const std::string& project_id, const std::string& environment,
                               const std::string& path) {
  std::lock_guard lock(state_mutex());
  impl_->ensure_folder(impl_->projects.at(project_id).environments.at(environment),
                       normalize_path(path));
}

int FakeInfisical::write_count() const {
  std::lock_guard lock(state_mutex());
  return impl_->writes;
}

void FakeInfisical::add_cloud_auth(const std::string& client_id, const std::string& method) {
  std::lock_guard lock(state_mutex());
  impl_->identities.at(client_id).cloud_methods.insert(method);
}

void FakeInfisical::set_cloud_keys(std::shared_ptr<const FakeCloudKeys> keys) {
  std::lock_guard lock(state_mutex());
  impl_->cloud_keys = std::move(keys);
}

std::string FakeInfisical::identity_id(const std::string& client_id) const {
  std::lock_guard lock(state_mutex());
  return impl_->identities.at(client_id).id;
}

void FakeInfisical::set_tamper_aws_headers(bool tamper) {
  std::lock_guard lock(state_mutex());
  impl_->tamper_aws_headers = tamper;
}

void FakeInfisical::on_write(std::function<void(const WriteEvent&)> observer) {
  std::lock_guard lock(state_mutex());
  impl_->observers.push_back(std::move(observer));
}

std::string FakeInfisical::classify(const HttpRequest& request) const {
  const std::string& p = request.path;
  const std::string& m = request.method;
  if (p.rfind("/__sandbox/", 0) == 0) return kAdminEndpoint;
  if (m == "POST" && p == "/api/v1/auth/universal-auth/login") return "inf.login";
  for (const char* cloud : {"aws", "gcp", "azure", "kubernetes", "oidc", "jwt"}) {
    if (m == "POST" && p == std::string("/api/v1/auth/") + cloud + "-auth/login")
      return "inf.login";
  }
  if (m == "POST" && p == "/api/v1/auth/token/renew") return "inf.renew";
  if (m == "POST" && p == "/api/v1/auth/token/revoke") return "inf.revoke";
  if (m == "POST" && p == "/api/v1/secret-approvals") return "inf.approval_policy";
  const bool current = !impl_->options.legacy_routes_only;
  // One route table for both generations: the current one (v4 secrets, v2 folders)
  // and the deprecated one (v3 raw secrets, v1 folders).
  const bool v4 = current && p.rfind("/api/v4/secrets", 0) == 0;
  const std::string secrets = v4 ? "/api/v4/secrets" : "/api/v3/secrets/raw";
  const std::string batch = v4 ? "/api/v4/secrets/batch" : "/api/v3/secrets/batch/raw";
  if (p == batch) {
    if (m == "POST") return "inf.batch_create";
    if (m == "PATCH") return "inf.upsert";
    if (m == "DELETE") return "inf.batch_delete";
  }
  if (m == "GET" && p == secrets) {
    return request.param("recursive").value_or("false") == "true" ? "inf.list_recursive"
                                                                  : "inf.list";
  }
  if (p.size() > secrets.size() + 1 && p.rfind(secrets + "/", 0) == 0 &&
      p.find('/', secrets.size() + 1) == std::string::npos && p != batch) {
    if (m == "GET") return "inf.get";
    if (m == "POST") return "inf.create";
    if (m == "PATCH") return "inf.update";
    if (m == "DELETE") return "inf.delete";
  }
  const std::string folders =
      current && p.rfind("/api/v2/folders", 0) == 0 ? "/api/v2/folders" : "/api/v1/folders";
  if (p == folders) {
    if (m == "POST") return "inf.folder_create";
    if (m == "GET") return "inf.folder_list";
  }
  if (m == "DELETE" && p.size() > folders.size() + 1 && p.rfind(folders + "/", 0) == 0 &&
      p.find('/', folders.size() + 1) == std::string::npos) {
    return "inf.folder_delete";
  }
  return "inf.other";
}

void FakeInfisical::handle(const HttpRequest& request, HttpResponse& response) {
  const std::string endpoint = classify(request);
  if (endpoint == kAdminEndpoint) {
    if (handle_clock_route(clock(), request, response)) return;
    if (request.path != "/__sandbox/secrets" || request.method != "GET") {
      return response.set_json(404, R"({"error":"no such sandbox route"})");
    }
    std::lock_guard lock(state_mutex());
    JsonBuilder json;
    json.begin_object().key("secrets").begin_array();
    for (const auto& [project_id, project] : impl_->projects) {
      for (const auto& [slug, env] : project.environments) {
        for (const auto& [path, secrets] : env.secrets) {
          for (const auto& [name, s] : secrets) {
            json.begin_object()
                .field_string("project", project_id)
                .field_string("environment", slug)
                .field_string("path", path)
                .field_string("name", name)
                .field_string("value", s.value)
                .field_int("version", s.version)
                .key("metadata")
                .begin_array();
            for (const auto& [key, value] : s.metadata) {
              json.begin_object()
                  .field_string("key", key)
                  .field_string("value", value)
                  .end_object();
            }
            json.end_array().end_object();
          }
        }
      }
    }
    json.end_array().end_object();
    return response.set_json(200, json.str());
  }
  if (endpoint == "inf.other") {
    ++impl_->route_not_found;
    // Fastify's own answer for an unknown route (60, 61, 159-162): no reqId.
    JsonBuilder json;
    json.begin_object()
        .field_string("message", "Route " + request.method + ":" + request.target + " not found")
        .field_string("error", "Not Found")
        .field_int("statusCode", 404)
        .end_object();
    return response.set_json(404, json.str());
  }

  std::lock_guard lock(state_mutex());
  if (impl_->rate_limited(endpoint, request.method, response)) return;

  // Bodies: JSON, or a form for the login route.
  rapidjson::Document body;
  body.SetObject();
  const std::string type = request.header("Content-Type");
  if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    for (const auto& [key, value] : parse_form(request.body)) {
      body.AddMember(rapidjson::Value(key.c_str(), body.GetAllocator()),
                     rapidjson::Value(value.c_str(), body.GetAllocator()), body.GetAllocator());
    }
  } else if (request.has_body && !request.body.empty()) {
    body.Parse(request.body.c_str(), request.body.size());
    if (body.HasParseError()) {
      return fail(response, 400, "Bad Request",
                  "Body is not valid JSON but content-type is set to 'application/json'");
    }
  } else if (type.rfind("application/json", 0) == 0 && request.method != "GET") {
    return fail(response, 400, "Bad Request",
                "Body cannot be empty when content-type is set to 'application/json'");
  }

  if (endpoint == "inf.login" && request.path != "/api/v1/auth/universal-auth/login") {
    // /api/v1/auth/<method>/login
    const std::string method = request.path.substr(13, request.path.size() - 13 - 6);
    return impl_->cloud_login(method, body, response);
  }
  if (endpoint == "inf.login") return impl_->login(body, response);
  if (endpoint == "inf.renew") return impl_->renew(body, response);
  if (endpoint == "inf.revoke") return impl_->revoke(body, response);

  const auto client_id = impl_->authenticate(request, response);
  if (!client_id) return;
  const std::string name = request.path.substr(request.path.rfind('/') + 1);
  if (endpoint == "inf.list" || endpoint == "inf.list_recursive") {
    return impl_->list(*client_id, request, response);
  }
  if (endpoint == "inf.get") return impl_->get(*client_id, name, request, response);
  if (endpoint == "inf.folder_list") return impl_->folder_list(*client_id, request, response);
  if (!body.IsObject()) {
    return fail(response, 400, "Bad Request", "body must be object");
  }
  if (endpoint == "inf.create") return impl_->create(*client_id, name, body, response);
  if (endpoint == "inf.update") return impl_->update(*client_id, name, body, response);
  if (endpoint == "inf.delete") return impl_->remove(*client_id, name, body, response);
  if (endpoint == "inf.folder_create") {
    return impl_->folder_create(*client_id, request.path, body, response);
  }
  if (endpoint == "inf.folder_delete")
    return impl_->folder_delete(*client_id, name, body, response);
  if (endpoint == "inf.approval_policy") {
    // Needs a paid plan; the recorded build had none (154).
    return fail(response, 400, "BadRequest",
                "Failed to create secret approval policy due to plan restriction. Upgrade plan to "
                "create secret approval policy.");
  }
  impl_->batch(*client_id, endpoint, body, response);
}

}  // namespace eca::sandbox

#include "clients/infisical_client.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <optional>

#include "clients/http_errors.h"
#include "clients/scrub.h"
#include "common/json.h"

namespace eca {
namespace {

// A failed login counts towards the identity's lockout (3 failures in 30 s lock it for
// 300 s by default): after a refusal, wait minutes, not seconds.
constexpr auto kLoginBackoff = std::chrono::minutes(5);
// Lifetimes in a token answer are capped (Infisical's own limit is 10 years) so that
// adding them to a time point cannot overflow, whatever the server sends.
constexpr long long kMaxTokenTtl = 315360000;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

void append_metadata(Secret& body, const std::map<std::string, std::string>& metadata) {
  body.append(",\"secretMetadata\":[");
  bool first = true;
  for (const auto& [k, v] : metadata) {
    if (!first) body.append(",");
    first = false;
    body.append("{\"key\":\"");
    json::append_escaped(body, k);
    body.append("\",\"value\":\"");
    json::append_escaped(body, v);
    body.append("\"}");
  }
  body.append("]");
}

}  // namespace

bool infisical_same_value(std::string_view sent, std::string_view stored) {
  std::string_view s = sent;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  bool had_newline = false;
  while (!s.empty() && is_space(s.back())) {
    had_newline |= s.back() == '\n';
    s.remove_suffix(1);
  }
  if (stored == s) return true;
  // One final newline is kept by the server.
  return had_newline && stored.size() == s.size() + 1 && stored.substr(0, s.size()) == s &&
         stored.back() == '\n';
}

InfisicalClient::InfisicalClient(HttpTransport& transport, InfisicalEndpoint endpoint, Now now)
    : transport_(transport), ep_(std::move(endpoint)), session_(session_options(std::move(now))) {
  api_base_ = ep_.url;
  while (!api_base_.empty() && api_base_.back() == '/') api_base_.pop_back();
  if (api_base_.size() < 4 || api_base_.substr(api_base_.size() - 4) != "/api") api_base_ += "/api";
}

AuthSession::Options InfisicalClient::session_options(Now now) {
  AuthSession::Options o;
  o.login = [this] { return identity_login(); };
  o.renew = [this](const Secret& current) { return renew_token(current); };
  // 401, or 403 TokenError: expired or revoked (the normal path with default TTLs).
  o.refused = [](const HttpResponse& r) {
    return r.status == 401 ||
           (r.status == 403 && r.body.view().find("\"TokenError\"") != std::string_view::npos);
  };
  o.now = std::move(now);
  o.login_pause = kLoginBackoff;
  o.pause_message = std::string(
                        "Infisical login is paused after a refused login (the server locks an "
                        "identity after repeated failures); ") +
                    (ep_.login_request ? "check the identity's cloud auth settings"
                                       : "check client_id and client_secret");
  return o;
}

Error InfisicalClient::api_error(HttpResponse& response, const std::string& what) {
  Error e;
  e.http_status = response.status;
  std::string msg;
  rapidjson::Document doc;
  if (json::parse_in_place(response.body, doc, what)) {
    if (auto r = json::str(doc, "reqId")) e.request_id = scrub_server_text(*r, 64);
    if (auto c = json::str(doc, "error")) e.code = scrub_server_text(*c, 160);
    if (auto m = json::str(doc, "message")) {
      msg = scrub_server_text(*m);
    } else if (const auto* arr = json::array(doc, "message")) {
      // Validation issues: each message with the path of the field it is about.
      std::string all;
      for (const auto& item : arr->GetArray()) {
        if (auto m2 = json::str(item, "message")) {
          if (!all.empty()) all += "; ";
          all.append(*m2);
          if (const auto* p = json::array(item, "path")) {
            for (const auto& seg : p->GetArray()) {
              if (seg.IsString()) all += std::string(" [") + seg.GetString() + "]";
            }
          }
        }
        if (all.size() > 4 * kServerTextLimit) break;
      }
      msg = scrub_server_text(all);
      wipe_string(all);
    }
  }
  e.message = what + " failed";
  if (!msg.empty()) e.message += ": " + msg;
  const int s = response.status;
  e.kind = error_kind_for_status(s);
  if (s == 429) {
    auto wait = requested_wait(response, msg).value_or(std::chrono::seconds(0));
    e.retry_after = wait.count() > 0 ? wait : std::chrono::seconds(60);
  } else if (s == 403 && e.code == "TokenError") {
    e.kind = ErrorKind::Auth;
  } else if (s == 403) {
    e.message += "; give the machine identity write access to environment \"" + ep_.environment +
                 "\" of project " + ep_.project_id;
    if (e.code.find("not a member") != std::string::npos) {
      e.message = what + " failed: the machine identity is not a member of project " +
                  ep_.project_id + "; add it to the project";
    }
  } else if (e.kind == ErrorKind::Permanent) {
    if (s == 404 && msg.find("Project with ID") != std::string::npos) {
      e.message += "; check [infisical] project_id";
    }
  }
  return e;
}

Status InfisicalClient::login() {
  return session_.log_in();
}

Result<AuthSession::Token> InfisicalClient::identity_login() {
  const bool cloud = static_cast<bool>(ep_.login_request);
  InfisicalLoginRequest req;
  if (cloud) {
    auto r = ep_.login_request();
    if (!r) return r.error();  // nothing was sent: no lockout to fear
    req = std::move(*r);
  } else {
    req = universal_login_request();
  }
  auto res = auth_post(req.route.c_str(), "inf.login", std::move(req.body));
  if (!res) return res.error();
  if (res->status == 200) return parse_token(res.value(), "login");
  Error e = api_error(res.value(), "Infisical machine identity login");
  if (res->status == 401 || res->status == 404 || res->status == 403) {
    e.kind = ErrorKind::Auth;  // the session pauses logins after this
    if (res->status != 404) {
      e.message += "; " + req.check;
    } else if (cloud) {
      e.message +=
          "; no machine identity has this id, or it lacks this auth method: check "
          "[infisical.auth] identity_id and the identity's authentication settings";
    } else {
      e.message += "; no identity has this client_id: check [infisical.auth] client_id";
    }
  }
  return e;
}

InfisicalLoginRequest InfisicalClient::universal_login_request() const {
  InfisicalLoginRequest req;
  req.route = "/v1/auth/universal-auth/login";
  req.body.append("{\"clientId\":\"");
  json::append_escaped(req.body, ep_.client_id);
  req.body.append("\",\"clientSecret\":\"");
  json::append_escaped(req.body, ep_.client_secret.view());
  req.body.append("\"}");
  req.check =
      "check [infisical.auth] client_id and client_secret (the identity needs Universal "
      "Auth)";
  return req;
}

namespace {

StoredSecret parse_secret(const rapidjson::Value& s, std::string_view name) {
  StoredSecret st;
  st.name = std::string(name);
  if (auto v = json::str(s, "secretValue")) st.value = Secret(*v);
  if (auto ver = json::integer(s, "version")) st.version = static_cast<long>(*ver);
  if (const auto* md = json::array(s, "secretMetadata")) {
    for (const auto& kv : md->GetArray()) {
      auto k = json::str(kv, "key");
      auto v = json::str(kv, "value");
      if (k && v) st.metadata.emplace(std::string(*k), std::string(*v));
    }
  }
  return st;
}

// Secret objects as list, get and batch answers carry them; only shared secrets at
// exactly `path` (a recursive answer would carry others, with their secretPath).
std::vector<StoredSecret> parse_secrets(const rapidjson::Value& secrets, const std::string& path) {
  std::vector<StoredSecret> out;
  for (const auto& s : secrets.GetArray()) {
    auto name = json::str(s, "secretKey");
    if (!name) continue;
    if (auto sp = json::str(s, "secretPath"); sp && *sp != path) continue;
    if (auto t = json::str(s, "type"); t && *t != "shared") continue;
    out.push_back(parse_secret(s, *name));
  }
  return out;
}

// A recursive answer, {"secrets":[{...}, ...], ...}, read as a stream of parse events
// instead of a document: a burst's answer holds thousands of secrets, and each is handed
// on (a shared secret, placed by its secretPath) as soon as its object ends, so neither a
// document of the whole answer nor a list of every secret is ever kept. Unknown members,
// nested or not, are skipped.
class ListedReader : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ListedReader> {
 public:
  explicit ListedReader(const InfisicalApi::EachListed& each) : each_(each) {}

  bool StartObject() {
    if (in_secrets_ && depth_ == 2) begin_secret();
    if (in_metadata_ && depth_ == 4) entry_ = {};
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    if (in_metadata_ && depth_ == 4 && entry_.key && entry_.value) {
      secret_.secret.metadata.emplace(std::string(*entry_.key), std::string(*entry_.value));
    }
    if (in_secrets_ && depth_ == 2) return end_secret();
    return true;
  }
  bool StartArray() {
    if (depth_ == 1 && key_ == "secrets") in_secrets_ = saw_secrets_ = true;
    if (in_secrets_ && depth_ == 3 && key_ == "secretMetadata") in_metadata_ = true;
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    if (depth_ == 3) in_metadata_ = false;
    if (depth_ == 1) in_secrets_ = false;
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType length, bool) {
    key_ = std::string_view(str, length);
    return true;
  }
  bool String(const char* str, rapidjson::SizeType length, bool) {
    const std::string_view v(str, length);
    if (in_metadata_ && depth_ == 5) {
      if (key_ == "key") entry_.key = v;
      if (key_ == "value") entry_.value = v;
    } else if (in_secrets_ && depth_ == 3) {
      if (key_ == "secretKey") name_ = v;
      if (key_ == "secretPath") path_ = v;
      if (key_ == "type") type_ = v;
      if (key_ == "secretValue") secret_.secret.value = Secret(v);
    }
    return true;
  }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(std::int64_t i) { return integer(i); }
  bool Uint64(std::uint64_t u) {
    return u <= static_cast<std::uint64_t>(LONG_MAX) ? integer(static_cast<long long>(u)) : true;
  }
  bool Double(double d) {
    return d >= -9e15 && d <= 9e15 ? integer(static_cast<long long>(d)) : true;
  }
  bool Default() { return true; }  // null, true, false

  bool saw_secrets() const { return saw_secrets_; }
  const std::string& error() const { return error_; }

 private:
  struct Entry {
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
  };
  bool integer(long long n) {
    if (in_secrets_ && depth_ == 3 && key_ == "version") {
      secret_.secret.version = static_cast<long>(n);
    }
    return true;
  }
  void begin_secret() {
    secret_ = ListedSecret{};
    name_.reset();
    path_.reset();
    type_.reset();
  }
  bool end_secret() {
    if (!name_) return true;
    // A build that ignores `recursive` answers without it: the answer cannot be placed.
    if (!path_) {
      error_ = "Infisical recursive list answer has no secretPath";
      return false;  // stops the parse
    }
    if (type_ && *type_ != "shared") return true;
    secret_.path = std::string(*path_);
    secret_.secret.name = std::string(*name_);
    each_(std::move(secret_));
    return true;
  }

  const InfisicalApi::EachListed& each_;
  int depth_ = 0;  // containers open
  bool in_secrets_ = false;
  bool saw_secrets_ = false;
  bool in_metadata_ = false;
  std::string_view key_;  // the last member name (in-situ: points into the answer)
  ListedSecret secret_;
  std::optional<std::string_view> name_, path_, type_;
  Entry entry_;
  std::string error_;
};

}  // namespace

Result<AuthSession::Token> InfisicalClient::parse_token(HttpResponse& response, const char* what) {
  rapidjson::Document doc;
  auto p = json::parse_in_place(response.body, doc, std::string("Infisical ") + what + " answer");
  if (!p) return p.error();
  auto tok = json::str(doc, "accessToken");
  if (!tok || tok->empty()) {
    return Error::permanent(std::string("Infisical ") + what + " answer has no accessToken");
  }
  auto lifetime = [&](const char* name) {
    long long s = json::integer(doc, name).value_or(0);
    return std::chrono::seconds(std::clamp(s, 0LL, kMaxTokenTtl));
  };
  AuthSession::Token token;
  token.value = Secret(*tok);
  token.ttl = lifetime("expiresIn");
  token.max_ttl = lifetime("accessTokenMaxTTL");
  return token;
}

Result<HttpResponse> InfisicalClient::auth_post(const char* path, const char* endpoint,
                                                Secret body) {
  // The auth routes take their credential in the JSON body, not as a bearer token.
  HttpRequest req;
  req.method = "POST";
  req.url = api() + path;
  req.endpoint = endpoint;
  req.tls = ep_.tls;
  req.content_type = "application/json";
  req.headers.emplace_back("Accept", "application/json");
  req.body = std::move(body);
  return transport_.send(req);
}

Status InfisicalClient::renew() {
  return session_.renew();
}

Result<AuthSession::Token> InfisicalClient::renew_token(const Secret& current) {
  Secret body;
  body.append("{\"accessToken\":\"");
  json::append_escaped(body, current.view());
  body.append("\"}");
  auto res = auth_post("/v1/auth/token/renew", "inf.renew", std::move(body));
  if (!res) return res.error();
  if (res->status == 200) return parse_token(res.value(), "token renewal");
  return api_error(res.value(), "Infisical token renewal");
}

Result<HttpResponse> InfisicalClient::call(const char* method, const std::string& path_and_query,
                                           const char* endpoint, const Secret& body,
                                           bool is_write) {
  return session_.send([&](Secret token) {
    HttpRequest req;
    req.method = method;
    req.url = api() + path_and_query;
    req.endpoint = endpoint;
    req.tls = ep_.tls;
    req.is_write = is_write;
    req.bearer = std::move(token);
    req.headers.emplace_back("Accept", "application/json");
    if (!body.empty()) {
      req.content_type = "application/json";
      req.body = body.clone();
    }
    return transport_.send(req);
  });
}

namespace {

// Fastify's answer for a route the server does not have: 404 without a reqId
// ({"message":"Route GET:/api/v4/secrets?... not found","error":"Not Found",...}), unlike
// the application's own 404s ("Folder not found", with a reqId).
bool route_not_found(const HttpResponse& response) {
  const std::string_view body = response.body.view();
  return response.status == 404 && body.find("\"reqId\"") == std::string_view::npos &&
         body.find("\"Route ") != std::string_view::npos;
}

}  // namespace

std::string InfisicalClient::server_generation() const {
  switch (generation_.load()) {
    case kCurrent:
      return "v4";
    case kLegacy:
      return "v3 (legacy routes)";
    default:
      return "unknown";
  }
}

Result<std::string> InfisicalClient::detect_generation() {
  if (generation_.load() == kUnknown) {
    auto listed = list("/");
    if (!listed) return listed.error();
  }
  return server_generation();
}

Result<HttpResponse> InfisicalClient::routed(const char* method, const char* endpoint,
                                             bool is_write,
                                             const std::function<Route(bool legacy)>& build) {
  std::unique_lock<std::mutex> probing;
  if (generation_.load() == kUnknown) {
    // The first call finds out; the others wait for it rather than probe too.
    probing = std::unique_lock<std::mutex>(probe_mu_);
  }
  const bool legacy = generation_.load() == kLegacy;
  Route route = build(legacy);
  auto res = call(method, route.path_and_query, endpoint, route.body, is_write);
  if (!res || legacy) return res;
  if (!route_not_found(res.value())) {
    // Any other answer (even an error with a reqId) shows the route exists.
    int unknown = kUnknown;
    generation_.compare_exchange_strong(unknown, kCurrent);
    return res;
  }
  generation_.store(kLegacy);
  route = build(true);
  return call(method, route.path_and_query, endpoint, route.body, is_write);
}

Result<HttpResponse> InfisicalClient::get_secrets(const std::string& path, bool recursive) {
  auto res = routed("GET", recursive ? "inf.list_recursive" : "inf.list", false, [&](bool legacy) {
    return Route{
        std::string(legacy ? "/v3/secrets/raw?workspaceId=" : "/v4/secrets?projectId=") +
            json::url_encode(ep_.project_id) + "&environment=" + json::url_encode(ep_.environment) +
            "&secretPath=" + json::url_encode(path) + (recursive ? "&recursive=true" : "") +
            "&include_imports=false&expandSecretReferences=false",
        Secret()};
  });
  if (!res) return res.error();
  if (res->status != 200) {
    return api_error(res.value(), std::string("listing Infisical secrets ") +
                                      (recursive ? "below " : "at ") + path);
  }
  return res;
}

Result<std::vector<StoredSecret>> InfisicalClient::list(const std::string& path) {
  auto res = get_secrets(path, false);
  if (!res) return res.error();
  // Parsed in place: the strings point into the answer, which outlives the parse.
  rapidjson::Document doc;
  auto p = json::parse_in_place(res->body, doc, "Infisical list answer");
  if (!p) return p.error();
  const auto* secrets = json::array(doc, "secrets");
  if (secrets == nullptr) return Error::permanent("Infisical list answer has no \"secrets\" list");
  return parse_secrets(*secrets, path);
}

Status InfisicalApi::list_recursive(const std::string& path, const EachListed& each) {
  (void)path;
  (void)each;
  return Error::permanent("this Infisical client cannot list secrets recursively");
}

Status InfisicalClient::list_recursive(const std::string& path, const EachListed& each) {
  auto res = get_secrets(path, true);
  if (!res) return res.error();
  Secret& body = res->body;
  if (body.empty()) {
    return Error::permanent("Infisical list answer was empty where JSON was expected");
  }
  ListedReader reader(each);
  rapidjson::Reader parser;
  rapidjson::InsituStringStream in(body.data());
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseStopWhenDoneFlag;
  const rapidjson::ParseResult ok = parser.Parse<kFlags>(in, reader);
  if (!reader.error().empty()) return Error::permanent(reader.error());
  if (!ok) {
    return Error::permanent(std::string("Infisical list answer is not valid JSON (") +
                            rapidjson::GetParseError_En(ok.Code()) + " at offset " +
                            std::to_string(ok.Offset()) + ")");
  }
  if (!reader.saw_secrets()) {
    return Error::permanent("Infisical list answer has no \"secrets\" list");
  }
  return ok_status();
}

Status InfisicalClient::create_folder(const std::string& path) {
  if (path == "/" || path.empty()) return ok_status();
  // Both create missing parents and answer 200 with an existing folder.
  auto res = routed("POST", "inf.folder_create", true, [&](bool legacy) {
    Secret body;
    body.append(std::string("{\"") + (legacy ? "workspaceId" : "projectId") + "\":\"" +
                json::escape(ep_.project_id) + "\",\"environment\":\"" +
                json::escape(ep_.environment) + "\",\"name\":\"" + json::escape(name_of(path)) +
                "\",\"path\":\"" + json::escape(parent_of(path)) + "\"}");
    return Route{legacy ? "/v1/folders" : "/v2/folders", std::move(body)};
  });
  if (!res) return res.error();
  if (res->status == 200 || res->status == 201) return ok_status();
  if (res->status == 400 && res->body.view().find("already exist") != std::string_view::npos) {
    return ok_status();
  }
  return api_error(res.value(), "creating Infisical folder " + path);
}

Status InfisicalClient::probe_environment() {
  auto res = routed("GET", "inf.folder_list", false, [&](bool legacy) {
    return Route{std::string(legacy ? "/v1/folders?workspaceId=" : "/v2/folders?projectId=") +
                     json::url_encode(ep_.project_id) +
                     "&environment=" + json::url_encode(ep_.environment) + "&path=%2F",
                 Secret()};
  });
  if (!res) return res.error();
  if (res->status == 200) return ok_status();
  // Looked at before api_error, which parses the body in place.
  const std::string_view body = res->body.view();
  const bool not_found = res->status == 404;
  const bool no_env = not_found && body.find("Environment with slug") != std::string_view::npos;
  const bool no_project = not_found && body.find("Project with") != std::string_view::npos;
  Error e = api_error(res.value(), "looking up Infisical environment \"" + ep_.environment +
                                       "\" of project " + ep_.project_id);
  if (no_env) {
    e.kind = ErrorKind::Permanent;
    e.message = "Infisical project " + ep_.project_id + " has no environment with slug \"" +
                ep_.environment + "\": check [infisical] environment (the slug shown in the " +
                "project's environment settings, e.g. \"prod\")";
  } else if (no_project) {
    e.kind = ErrorKind::Permanent;
    e.message = "Infisical has no project with ID " + ep_.project_id +
                ": check [infisical] project_id (the project ID shown in the project's settings)";
  }
  return e;
}

Result<std::vector<std::string>> InfisicalClient::list_folders_recursive(const std::string& path) {
  auto res = routed("GET", "inf.folder_list", false, [&](bool legacy) {
    return Route{std::string(legacy ? "/v1/folders?workspaceId=" : "/v2/folders?projectId=") +
                     json::url_encode(ep_.project_id) +
                     "&environment=" + json::url_encode(ep_.environment) +
                     "&path=" + json::url_encode(path) + "&recursive=true",
                 Secret()};
  });
  if (!res) return res.error();
  if (res->status != 200) return api_error(res.value(), "listing Infisical folders at " + path);
  rapidjson::Document doc;
  auto p = json::parse_in_place(res->body, doc, "Infisical folder list answer");
  if (!p) return p.error();
  const auto* folders = json::array(doc, "folders");
  if (folders == nullptr) return Error::permanent("Infisical folder list has no \"folders\"");
  std::vector<std::string> out;
  for (const auto& f : folders->GetArray()) {
    const auto rel = json::str(f, "relativePath");
    // Without relativePath (a build that ignores `recursive`) the answer cannot be placed.
    if (!rel) return Error::permanent("Infisical folder list has no relativePath");
    const std::string r(*rel);
    out.push_back(path == "/" ? r : path + r);
  }
  return out;
}

Status InfisicalClient::upsert(const std::string& path, std::vector<SecretWrite>& writes,
                               std::vector<StoredSecret>* echoed) {
  Secret body;
  body.append("\":\"" + json::escape(ep_.project_id) + "\",\"environment\":\"" +
              json::escape(ep_.environment) + "\",\"secretPath\":\"" + json::escape(path) +
              "\",\"mode\":\"upsert\",\"secrets\":[");
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (i != 0) body.append(",");
    body.append("{\"secretKey\":\"");
    json::append_escaped(body, writes[i].name);
    body.append("\",\"secretValue\":\"");
    json::append_escaped(body, writes[i].value.view());
    body.append("\",\"skipMultilineEncoding\":true");
    append_metadata(body, writes[i].metadata);
    body.append("}");
  }
  body.append("]}");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto res = routed("PATCH", "inf.upsert", true, [&](bool legacy) {
      Secret full;
      full.append(legacy ? "{\"workspaceId" : "{\"projectId");
      full.append(body.view());
      return Route{legacy ? "/v3/secrets/batch/raw" : "/v4/secrets/batch", std::move(full)};
    });
    if (!res) return res.error();
    if (res->status == 200) {
      rapidjson::Document doc;
      auto parsed = json::parse_in_place(res->body, doc, "Infisical batch upsert answer");
      const auto* secrets = parsed ? json::array(doc, "secrets") : nullptr;
      if (secrets == nullptr && parsed && json::object(doc, "approval") != nullptr) {
        return Error::permanent(
            "Infisical answered with an approval request for " + path +
            ": nothing was written. Exempt the machine identity from the approval policy for "
            "this path, or the rotated pair can never be published");
      }
      if (secrets != nullptr && echoed != nullptr) *echoed = parse_secrets(*secrets, path);
      return ok_status();
    }
    if (res->status == 404 && attempt == 0 &&
        res->body.view().find("Folder") != std::string_view::npos &&
        res->body.view().find("not found") != std::string_view::npos) {
      // Secret writes never create folders.
      if (auto st = create_folder(path); !st) return st;
      continue;
    }
    return api_error(res.value(), "writing Infisical secrets at " + path);
  }
  return Error::permanent("writing Infisical secrets at " + path + " failed after creating it");
}

}  // namespace eca

#include "tests/sandbox/fake_salesforce.h"

#include <rapidjson/document.h>
#include <sodium.h>

#include <algorithm>
#include <regex>

#include "clients/salesforce_jwt.h"
#include "crypto/rsa_signer.h"
#include "tests/sandbox/admin_routes.h"
#include "tests/sandbox/form_decoding.h"
#include "tests/sandbox/json_builder.h"
#include "tests/sandbox/random_text.h"
#include "tests/sandbox/time_format.h"

namespace eca::sandbox {
namespace {

constexpr int kMinMajorVersion = 65;

// Consumer keys carry '.' and '_' besides base62 (so clients must URL-encode them).
std::string new_consumer_key() {
  return "3MVG9" + random_from_alphabet(
                       "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._", 80);
}

std::string new_consumer_secret() {
  return random_hex(64);
}

Credential new_credential() {
  return {new_consumer_key(), new_consumer_secret()};
}

std::string rest_error(std::string_view code, std::string_view message) {
  JsonBuilder json;
  json.begin_array()
      .begin_object()
      .field_string("errorCode", code)
      .field_string("message", message)
      .end_object()
      .end_array();
  return json.str();
}

std::string oauth_error(std::string_view error, std::string_view description) {
  JsonBuilder json;
  json.begin_object()
      .field_string("error", error)
      .field_string("error_description", description)
      .end_object();
  return json.str();
}

void not_found(HttpResponse& response) {
  response.set_json(404, rest_error("NOT_FOUND", "The requested resource does not exist"));
}

void secret_access_disabled(HttpResponse& response) {
  response.set_json(
      403, rest_error("FUNCTIONALITY_NOT_ENABLED",
                      "Allow access to External Client App consumer secrets via REST API is not "
                      "currently enabled for this org"));
}

// 15-character ids are case-sensitive prefixes of the 18-character form.
bool same_id(std::string_view stored18, std::string_view given) {
  if (given.size() == 18) return stored18 == given;
  if (given.size() == 15) return stored18.substr(0, 15) == given;
  return false;
}

bool parse_count(const std::optional<std::string>& text, int& out) {
  if (!text) return true;
  if (text->empty() || text->size() > 6) return false;
  for (char c : *text) {
    if (c < '0' || c > '9') return false;
  }
  out = std::stoi(*text);
  return true;
}

// Page `page` of size `size` over `total` items, as half-open index bounds.
std::pair<std::size_t, std::size_t> page_bounds(int page, int size, std::size_t total) {
  const std::size_t begin = std::min(total, static_cast<std::size_t>(page) * size);
  return {begin, std::min(total, begin + static_cast<std::size_t>(size))};
}

std::string page_url(const std::string& base, int page, int size) {
  return base + "?page=" + std::to_string(page) + "&pageSize=" + std::to_string(size);
}

}  // namespace

const char* to_string(StagedState state) {
  switch (state) {
    case StagedState::Active:
      return "Active";
    case StagedState::Rotated:
      return "Rotated";
    case StagedState::Expired:
      return "Expired";
  }
  return "Active";
}

FakeSalesforce::FakeSalesforce(FakeSalesforceOptions options, std::shared_ptr<FakeClock> clock,
                               std::shared_ptr<std::recursive_mutex> state_mutex)
    : FakeServer(options.server, std::move(clock), std::move(state_mutex),
                 "application/json;charset=UTF-8"),
      options_(std::move(options)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot initialise");
  org_id_ = salesforce_id("00D");
  run_as_user_id_ = salesforce_id("005");
}

FakeSalesforce::~FakeSalesforce() {
  stop();
}

// ---- control API ---------------------------------------------------------------

AppInfo FakeSalesforce::add_app(const std::string& developer_name, const std::string& label,
                                int consumers, bool never_used) {
  std::lock_guard lock(state_mutex());
  App app;
  app.id = salesforce_id("0xI");
  app.developer_name = developer_name;
  app.label = label.empty() ? developer_name : label;
  app.never_used = never_used;
  AppInfo info{app.id, app.developer_name, app.label, {}};
  for (int i = 0; i < std::max(1, consumers); ++i) {
    Consumer consumer;
    consumer.id = salesforce_id("888");
    consumer.name = developer_name + (i == 0 ? "" : "_" + std::to_string(i + 1));
    consumer.primary = new_credential();
    info.consumers.push_back({consumer.id, consumer.name, consumer.primary});
    app.consumers.push_back(std::move(consumer));
  }
  apps_.push_back(std::move(app));
  return info;
}

std::vector<AppInfo> FakeSalesforce::apps() const {
  std::lock_guard lock(state_mutex());
  std::vector<AppInfo> out;
  for (const App& app : apps_) {
    AppInfo info{app.id, app.developer_name, app.label, {}};
    for (const Consumer& c : app.consumers) info.consumers.push_back({c.id, c.name, c.primary});
    out.push_back(std::move(info));
  }
  return out;
}

FakeSalesforce::App* FakeSalesforce::find_app(std::string_view id) {
  for (App& app : apps_) {
    if (same_id(app.id, id)) return &app;
  }
  return nullptr;
}

const FakeSalesforce::App* FakeSalesforce::find_app(std::string_view id) const {
  return const_cast<FakeSalesforce*>(this)->find_app(id);
}

FakeSalesforce::Consumer* FakeSalesforce::find_consumer(App& app, std::string_view id) {
  if (id.empty()) return app.consumers.empty() ? nullptr : &app.consumers.front();
  for (Consumer& consumer : app.consumers) {
    if (same_id(consumer.id, id)) return &consumer;
  }
  return nullptr;
}

std::optional<Credential> FakeSalesforce::primary(const std::string& app_id,
                                                  const std::string& consumer_id) const {
  std::lock_guard lock(state_mutex());
  auto* self = const_cast<FakeSalesforce*>(this);
  App* app = self->find_app(app_id);
  Consumer* consumer = app ? find_consumer(*app, consumer_id) : nullptr;
  if (consumer == nullptr) return std::nullopt;
  return consumer->primary;
}

std::optional<StagedCredential> FakeSalesforce::staged(const std::string& app_id,
                                                       const std::string& consumer_id) const {
  std::lock_guard lock(state_mutex());
  auto* self = const_cast<FakeSalesforce*>(this);
  App* app = self->find_app(app_id);
  Consumer* consumer = app ? find_consumer(*app, consumer_id) : nullptr;
  if (consumer == nullptr || !consumer->staged) return std::nullopt;
  StagedCredential copy = *consumer->staged;
  copy.state = state_now(copy);
  return copy;
}

StagedState FakeSalesforce::state_now(const StagedCredential& staged) const {
  if (staged.state == StagedState::Rotated && staged.expiration_date &&
      clock().now() >= *staged.expiration_date) {
    return StagedState::Expired;
  }
  return staged.state;
}

bool FakeSalesforce::slot_taken(const Consumer& consumer) const {
  return consumer.staged && state_now(*consumer.staged) != StagedState::Expired;
}

bool FakeSalesforce::authenticates(std::string_view key, std::string_view secret) const {
  std::lock_guard lock(state_mutex());
  for (const App& app : apps_) {
    for (const Consumer& c : app.consumers) {
      if (c.primary.key == key) return c.primary.secret == secret;
      if (c.staged && c.staged->credential.key == key) {
        return state_now(*c.staged) != StagedState::Expired &&
               c.staged->credential.secret == secret;
      }
    }
  }
  return false;
}

std::string FakeSalesforce::app_of_key(std::string_view key) const {
  std::lock_guard lock(state_mutex());
  for (const App& app : apps_) {
    for (const Consumer& c : app.consumers) {
      if (c.primary.key == key || (c.staged && c.staged->credential.key == key)) return app.id;
    }
  }
  return {};
}

StagedCredential FakeSalesforce::make_staged(const Credential& credential) {
  StagedCredential staged;
  staged.id = salesforce_id("0Ls");
  staged.credential = credential;
  staged.state = StagedState::Active;
  staged.created_date = clock().now();
  staged.created_by = run_as_user_id_;
  return staged;
}

void FakeSalesforce::promote(App& app, Consumer& consumer) {
  StagedCredential rotated = make_staged(consumer.primary);
  rotated.state = StagedState::Rotated;
  rotated.expiration_date = clock().now() + options_.rotated_lifetime;
  consumer.primary = consumer.staged->credential;
  consumer.staged = std::move(rotated);
  notify(app, consumer, "promote");
}

void FakeSalesforce::notify(const App& app, const Consumer& consumer, const char* what) {
  const CredentialChange change{app.id, consumer.id, what};
  for (const auto& observer : observers_) observer(change);
}

std::optional<StagedCredential> FakeSalesforce::stage_by_hand(const std::string& app_id,
                                                              const std::string& consumer_id) {
  std::lock_guard lock(state_mutex());
  App* app = find_app(app_id);
  Consumer* consumer = app ? find_consumer(*app, consumer_id) : nullptr;
  if (consumer == nullptr || slot_taken(*consumer)) return std::nullopt;
  consumer->staged = make_staged(new_credential());
  notify(*app, *consumer, "stage");
  return consumer->staged;
}

bool FakeSalesforce::promote_by_hand(const std::string& app_id, const std::string& consumer_id) {
  std::lock_guard lock(state_mutex());
  App* app = find_app(app_id);
  Consumer* consumer = app ? find_consumer(*app, consumer_id) : nullptr;
  if (consumer == nullptr || !consumer->staged ||
      state_now(*consumer->staged) != StagedState::Active) {
    return false;
  }
  promote(*app, *consumer);
  return true;
}

bool FakeSalesforce::revoke_staged_by_hand(const std::string& app_id,
                                           const std::string& consumer_id) {
  std::lock_guard lock(state_mutex());
  App* app = find_app(app_id);
  Consumer* consumer = app ? find_consumer(*app, consumer_id) : nullptr;
  if (consumer == nullptr || !consumer->staged) return false;
  consumer->staged.reset();
  notify(*app, *consumer, "revoke");
  return true;
}

void FakeSalesforce::set_slot_policy(SlotPolicy policy) {
  std::lock_guard lock(state_mutex());
  options_.slot_policy = policy;
}

void FakeSalesforce::set_rest_secret_access(bool enabled) {
  std::lock_guard lock(state_mutex());
  options_.rest_secret_access = enabled;
}

void FakeSalesforce::set_token_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(state_mutex());
  options_.token_lifetime = lifetime;
}

void FakeSalesforce::set_stage_hang(std::chrono::milliseconds hang) {
  std::lock_guard lock(state_mutex());
  options_.stage_hang = hang;
}

void FakeSalesforce::expire_all_tokens() {
  std::lock_guard lock(state_mutex());
  tokens_.clear();
}

int FakeSalesforce::live_token_count() const {
  std::lock_guard lock(state_mutex());
  int live = 0;
  const auto now = clock().now();
  for (const auto& [token, expiry] : tokens_) live += now < expiry;
  return live;
}

void FakeSalesforce::on_credential_change(std::function<void(const CredentialChange&)> observer) {
  std::lock_guard lock(state_mutex());
  observers_.push_back(std::move(observer));
}

// ---- HTTP ---------------------------------------------------------------------

FakeSalesforce::Route FakeSalesforce::route_of(const std::string& method, const std::string& path) {
  static const std::regex kRest(R"(^/services/data/v(\d+)\.(\d+)(/.*)?$)");
  Route route;
  route.endpoint = "sf.other";
  std::smatch m;
  if (!std::regex_match(path, m, kRest)) return route;
  route.rest = true;
  route.version = m[1].str() + "." + m[2].str();
  route.version_ok = std::stoi(m[1].str().substr(0, 6)) >= kMinMajorVersion;

  std::vector<std::string> seg;
  const std::string rest = m[3].str();
  for (std::size_t at = 1; at <= rest.size();) {
    const std::size_t slash = rest.find('/', at);
    seg.push_back(rest.substr(at, slash == std::string::npos ? std::string::npos : slash - at));
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  if (!seg.empty() && seg.back().empty()) seg.pop_back();  // tolerate a trailing slash
  auto pick = [&](const char* allowed,
                  std::initializer_list<std::pair<const char*, const char*>> methods) {
    for (const auto& [verb, endpoint] : methods) {
      if (method == verb) {
        route.endpoint = endpoint;
        return;
      }
    }
    route.allowed = allowed;
  };
  if (seg.size() == 1 && seg[0] == "limits") {
    pick("GET", {{"GET", "sf.limits"}});
    return route;
  }
  if (seg.size() < 3 || seg[0] != "apps" || seg[1] != "oauth") return route;
  if (seg.size() == 3 && seg[2] == "usage") {
    pick("GET", {{"GET", "sf.usage"}});
    return route;
  }
  if (seg[2] != "credentials" || seg.size() < 4) return route;
  route.app_id = seg[3];
  if (seg.size() == 4) {
    pick("GET", {{"GET", "sf.consumers"}});
  } else if (seg.size() == 5) {
    route.consumer_id = seg[4];
    pick("GET", {{"GET", "sf.read_primary"}});
  } else if (seg[5] != "staged") {
    return route;
  } else if (seg.size() == 6) {
    route.consumer_id = seg[4];
    pick("GET,POST", {{"GET", "sf.staged_list"}, {"POST", "sf.stage"}});
  } else if (seg.size() == 7) {
    route.consumer_id = seg[4];
    route.staged_id = seg[6];
    pick("GET,PATCH,DELETE",
         {{"GET", "sf.staged_get"}, {"PATCH", "sf.promote"}, {"DELETE", "sf.revoke"}});
  }
  return route;
}

std::string FakeSalesforce::classify(const HttpRequest& request) const {
  if (request.path.rfind("/__sandbox/", 0) == 0) return kAdminEndpoint;
  if (request.path == "/services/oauth2/token") return "sf.token";
  return route_of(request.method, request.path).endpoint;
}

void FakeSalesforce::handle(const HttpRequest& request, HttpResponse& response) {
  if (request.path.rfind("/__sandbox/", 0) == 0) return handle_admin(request, response);
  if (request.path == "/services/oauth2/token") return handle_token(request, response);

  const Route route = route_of(request.method, request.path);
  if (!route.rest) return not_found(response);

  std::lock_guard lock(state_mutex());
  // Salesforce accepts both "Bearer" and its older "OAuth" scheme.
  const std::string auth = request.header("Authorization");
  std::string token;
  for (const char* scheme : {"Bearer ", "OAuth "}) {
    if (auth.rfind(scheme, 0) == 0) token = auth.substr(std::string_view(scheme).size());
  }
  const auto it = tokens_.find(token);
  if (token.empty() || it == tokens_.end() || clock().now() >= it->second) {
    return response.set_json(401, rest_error("INVALID_SESSION_ID", "Session expired or invalid"));
  }
  if (!route.version_ok) return not_found(response);
  roll_daily_api();
  if (api_used_today_ >= options_.daily_api_max) {
    return response.set_json(403,
                             rest_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));
  }
  ++api_used_today_;
  ++rest_requests_;
  handle_rest(request, route, response);
}

void FakeSalesforce::roll_daily_api() const {
  const auto days =
      std::chrono::duration_cast<std::chrono::hours>(clock().now().time_since_epoch()).count() / 24;
  if (days != api_day_) {
    api_day_ = days;
    api_used_today_ = 0;
  }
}

DailyApiUsage FakeSalesforce::daily_api() const {
  std::lock_guard lock(state_mutex());
  roll_daily_api();
  return {options_.daily_api_max, std::max(0LL, options_.daily_api_max - api_used_today_)};
}

void FakeSalesforce::set_daily_api(long long max, long long remaining) {
  std::lock_guard lock(state_mutex());
  roll_daily_api();
  options_.daily_api_max = std::max(0LL, max);
  api_used_today_ = options_.daily_api_max - std::clamp(remaining, 0LL, options_.daily_api_max);
}

long long FakeSalesforce::rest_requests() const {
  std::lock_guard lock(state_mutex());
  return rest_requests_;
}

void FakeSalesforce::handle_token(const HttpRequest& request, HttpResponse& response) {
  if (request.method != "POST") {
    return response.set_json(400, oauth_error("invalid_request", "must use HTTP POST"));
  }
  const auto form = parse_form(request.body);
  auto field = [&form](const char* name) {
    auto it = form.find(name);
    return it == form.end() ? std::string() : it->second;
  };
  if (field("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
    std::lock_guard lock(state_mutex());
    std::string error = "invalid_grant";
    const std::string why = jwt_refusal(field("assertion"), error);
    if (!why.empty()) return response.set_json(400, oauth_error(error, why));
    ++jwt_logins_;
    return issue_token(response);
  }
  if (field("grant_type") != "client_credentials") {
    return response.set_json(400,
                             oauth_error("unsupported_grant_type", "grant type not supported"));
  }
  const std::string key = field("client_id");
  const std::string secret = field("client_secret");

  std::lock_guard lock(state_mutex());
  bool known = false;
  for (const App& app : apps_) {
    for (const Consumer& c : app.consumers) {
      known = known || c.primary.key == key ||
              (c.staged && c.staged->credential.key == key &&
               state_now(*c.staged) != StagedState::Expired);
    }
  }
  if (key.empty() || !known) {
    return response.set_json(400, oauth_error("invalid_client_id", "client identifier invalid"));
  }
  if (!authenticates(key, secret)) {
    return response.set_json(400, oauth_error("invalid_client", "invalid client credentials"));
  }
  issue_token(response);
}

void FakeSalesforce::issue_token(HttpResponse& response) {
  const std::string token =
      org_id_.substr(0, 15) + "!AQ" +
      random_from_alphabet("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._", 96);
  tokens_[token] = clock().now() + options_.token_lifetime;
  // No refresh_token and no expires_in, for either flow.
  JsonBuilder json;
  json.begin_object()
      .field_string("access_token", token)
      .field_string("signature", random_base64url(32) + "=")
      .field_string("scope", "api")
      .field_string("instance_url", base_url())
      .field_string("id", base_url() + "/id/" + org_id_ + "/" + run_as_user_id_)
      .field_string("token_type", "Bearer")
      .field_string("issued_at", std::to_string(clock().now_epoch_ms()))
      .end_object();
  response.set_json(200, json.str());
}

std::string FakeSalesforce::jwt_refusal(const std::string& assertion, std::string& error) const {
  const auto jwt = decode_jwt(assertion);
  if (!jwt || jwt->alg != "RS256") return "invalid assertion";
  const App* app = nullptr;
  for (const App& a : apps_) {
    for (const Consumer& c : a.consumers) {
      if (!jwt->claims.iss.empty() && c.primary.key == jwt->claims.iss) app = &a;
    }
  }
  if (app == nullptr) {
    error = "invalid_client_id";
    return "client identifier invalid";
  }
  if (!app->jwt || !rs256_verify(app->jwt->certificate_pem, jwt->signing_input, jwt->signature)) {
    return "invalid assertion";
  }
  const auto& auds = app->jwt->audiences;
  if (std::find(auds.begin(), auds.end(), jwt->claims.aud) == auds.end()) {
    return "audience is invalid";
  }
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(clock().now().time_since_epoch()).count();
  if (!jwt->has_exp || jwt->claims.exp <= now) return "expired authorization code";
  const auto& users = app->jwt->pre_authorized_users;
  if (std::find(users.begin(), users.end(), jwt->claims.sub) == users.end()) {
    return "user hasn't approved this consumer";
  }
  return {};
}

void FakeSalesforce::set_jwt(const std::string& app_id, std::optional<JwtSettings> settings) {
  std::lock_guard lock(state_mutex());
  if (App* app = find_app(app_id)) app->jwt = std::move(settings);
}

int FakeSalesforce::jwt_logins() const {
  std::lock_guard lock(state_mutex());
  return jwt_logins_;
}

std::string FakeSalesforce::staged_json(const StagedCredential& staged,
                                        const std::string& consumer_url) const {
  JsonBuilder json;
  json.begin_object()
      .field_string("id", staged.id)
      .field_string("key", staged.credential.key)
      .field_string("secret", staged.credential.secret)
      .field_string("state", to_string(state_now(staged)))
      .field_string("createdDate", salesforce_date(staged.created_date))
      .field_string("createdBy", staged.created_by);
  if (staged.expiration_date) {
    json.field_string("expirationDate", salesforce_date(*staged.expiration_date));
  } else {
    json.field_null("expirationDate");
  }
  json.field_string("url", consumer_url + "/staged/" + staged.id)
      .field_string("stagedCredentialsUrl", consumer_url + "/staged")
      .end_object();
  return json.str();
}

std::string FakeSalesforce::slot_json(const Consumer& consumer,
                                      const std::string& consumer_url) const {
  JsonBuilder json;
  json.begin_object().key("stagedCredentials").begin_array();
  if (consumer.staged) json.raw(staged_json(*consumer.staged, consumer_url));
  json.end_array().field_string("url", consumer_url + "/staged").end_object();
  return json.str();
}

void FakeSalesforce::handle_rest(const HttpRequest& request, const Route& route,
                                 HttpResponse& response) {
  if (route.endpoint == "sf.other") {
    if (route.allowed.empty()) return not_found(response);
    return response.set_json(
        405, rest_error("METHOD_NOT_ALLOWED", "HTTP Method '" + request.method +
                                                  "' not allowed. Allowed are " + route.allowed));
  }
  if (route.endpoint == "sf.limits") {
    // Real orgs list dozens of limits; two others stand for them here.
    const long long remaining = options_.daily_api_max - api_used_today_;
    JsonBuilder json;
    json.begin_object()
        .key("ConcurrentAsyncGetReportInstances")
        .begin_object()
        .field_int("Max", 200)
        .field_int("Remaining", 200)
        .end_object()
        .key("DailyApiRequests")
        .begin_object()
        .field_int("Max", options_.daily_api_max)
        .field_int("Remaining", remaining)
        .end_object()
        .key("DailyBulkApiBatches")
        .begin_object()
        .field_int("Max", 15000)
        .field_int("Remaining", 15000)
        .end_object()
        .end_object();
    return response.set_json(200, json.str());
  }
  const std::string base = "/services/data/v" + route.version + "/apps/oauth";

  // Page parameters (R1 always, R2 only when given): 0-based pages. The real API's
  // quirk is kept: nextPageUrl is set on the last page too, and past the end the
  // list is simply empty.
  int page = 0;
  int page_size = route.endpoint == "sf.usage" ? options_.default_page_size : 0;
  const auto page_param = request.param("page");
  const auto size_param = request.param("pageSize");
  if (!parse_count(page_param, page) || !parse_count(size_param, page_size) ||
      (size_param && page_size == 0)) {
    return response.set_json(
        400, rest_error("INVALID_QUERY_PARAMETER_VALUE", "Invalid page or pageSize parameter"));
  }
  if (route.endpoint == "sf.consumers" && page_param && !size_param) page_size = 25;

  if (route.endpoint == "sf.usage") {
    std::vector<const App*> listed;
    for (const App& app : apps_) {
      if (!app.never_used) listed.push_back(&app);
    }
    const auto [begin, end] = page_bounds(page, page_size, listed.size());
    JsonBuilder json;
    json.begin_object().key("apps").begin_array();
    for (std::size_t i = begin; i < end; ++i) {
      json.begin_object()
          .field_string("identifier", listed[i]->id)
          .field_string("developerName", listed[i]->developer_name)
          .field_string("label", listed[i]->label)
          .end_object();
    }
    json.end_array()
        .field_string("currentPageUrl", page_url(base + "/usage", page, page_size))
        .field_string("nextPageUrl", page_url(base + "/usage", page + 1, page_size))
        .end_object();
    return response.set_json(200, json.str());
  }

  const bool reads_secrets = route.endpoint == "sf.read_primary" ||
                             route.endpoint == "sf.staged_list" || route.endpoint == "sf.stage" ||
                             route.endpoint == "sf.staged_get";
  if (reads_secrets && !options_.rest_secret_access) return secret_access_disabled(response);

  App* app = find_app(route.app_id);
  if (app == nullptr) return not_found(response);
  const std::string app_url = base + "/credentials/" + app->id;

  if (route.endpoint == "sf.consumers") {
    std::size_t begin = 0;
    std::size_t end = app->consumers.size();
    if (page_size > 0) std::tie(begin, end) = page_bounds(page, page_size, end);
    JsonBuilder json;
    json.begin_object().key("consumers").begin_array();
    for (std::size_t i = begin; i < end; ++i) {
      const Consumer& c = app->consumers[i];
      json.begin_object()
          .field_string("id", c.id)
          .field_string("key", c.primary.key)
          .field_string("name", c.name)
          .field_string("url", app_url + "/" + c.id)
          .field_string("stagedCredentialsUrl", app_url + "/" + c.id + "/staged")
          .end_object();
    }
    json.end_array();
    if (page_size > 0) {
      json.field_string("currentPageUrl", page_url(app_url, page, page_size))
          .field_string("nextPageUrl", page_url(app_url, page + 1, page_size));
    } else {
      json.field_string("currentPageUrl", app_url).field_null("nextPageUrl");
    }
    return response.set_json(200, json.end_object().str());
  }

  Consumer* consumer = find_consumer(*app, route.consumer_id);
  if (consumer == nullptr || route.consumer_id.empty()) return not_found(response);
  const std::string consumer_url = app_url + "/" + consumer->id;

  if (route.endpoint == "sf.read_primary") {
    const std::string part = request.param("part").value_or("keyandsecret");
    if (part != "key" && part != "secret" && part != "keyandsecret") {
      return response.set_json(400, rest_error("INVALID_QUERY_PARAMETER_VALUE",
                                               "part must be one of: key, secret, keyandsecret"));
    }
    JsonBuilder json;
    json.begin_object();
    if (part != "secret") json.field_string("key", consumer->primary.key);
    if (part != "key") json.field_string("secret", consumer->primary.secret);
    return response.set_json(200, json.end_object().str());
  }

  if (route.endpoint == "sf.staged_list") {
    return response.set_json(200, slot_json(*consumer, consumer_url));
  }

  if (route.endpoint == "sf.stage") {
    // The quirk the spec warns about: without a body the real org never answers.
    if (!request.has_body) {
      response.hang_then_drop = options_.stage_hang;
      return;
    }
    if (slot_taken(*consumer)) {
      const bool replace = options_.slot_policy == SlotPolicy::ReplaceRotated &&
                           state_now(*consumer->staged) == StagedState::Rotated;
      if (!replace) {
        return response.set_json(
            400,
            rest_error("INVALID_INPUT", "A staged credential already exists for this consumer"));
      }
      consumer->staged.reset();
      notify(*app, *consumer, "replace_rotated");
    }
    consumer->staged = make_staged(new_credential());
    notify(*app, *consumer, "stage");
    return response.set_json(201, slot_json(*consumer, consumer_url));
  }

  // R6-R8: one staged credential by id.
  if (!consumer->staged || !same_id(consumer->staged->id, route.staged_id)) {
    return not_found(response);
  }
  if (route.endpoint == "sf.staged_get") {
    return response.set_json(200, staged_json(*consumer->staged, consumer_url));
  }
  if (route.endpoint == "sf.revoke") {
    consumer->staged.reset();
    notify(*app, *consumer, "revoke");
    response.status = 204;
    return;
  }
  // sf.promote
  rapidjson::Document doc;
  doc.Parse(request.body.c_str(), request.body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return response.set_json(
        400, rest_error("JSON_PARSER_ERROR", "The request body is not a valid JSON object"));
  }
  if (!doc.HasMember("command") || !doc["command"].IsString() ||
      std::string_view(doc["command"].GetString()) != "rotate") {
    return response.set_json(
        400, rest_error("INVALID_INPUT", "Invalid command. The supported command is: rotate"));
  }
  if (state_now(*consumer->staged) != StagedState::Active) {
    return response.set_json(
        400, rest_error("INVALID_INPUT",
                        std::string("Only an Active staged credential can be rotated; this one "
                                    "is ") +
                            to_string(state_now(*consumer->staged))));
  }
  promote(*app, *consumer);
  response.set_json(200, slot_json(*consumer, consumer_url));
}

void FakeSalesforce::handle_admin(const HttpRequest& request, HttpResponse& response) {
  if (handle_clock_route(clock(), request, response)) return;
  if (request.path == "/__sandbox/limits") return handle_limits_admin(request, response);
  if (request.path != "/__sandbox/credentials" || request.method != "GET") {
    return response.set_json(404, R"({"error":"no such sandbox route"})");
  }
  std::lock_guard lock(state_mutex());
  JsonBuilder json;
  json.begin_object().key("apps").begin_array();
  for (const App& app : apps_) {
    json.begin_object()
        .field_string("id", app.id)
        .field_string("developerName", app.developer_name)
        .field_string("label", app.label)
        .field_bool("neverUsed", app.never_used)
        .key("consumers")
        .begin_array();
    for (const Consumer& c : app.consumers) {
      json.begin_object()
          .field_string("id", c.id)
          .field_string("name", c.name)
          .field_string("primaryKey", key_fingerprint(c.primary.key))
          .key("staged");
      if (!c.staged) {
        json.null();
      } else {
        json.begin_object()
            .field_string("id", c.staged->id)
            .field_string("state", to_string(state_now(*c.staged)))
            .field_string("key", key_fingerprint(c.staged->credential.key))
            .field_string("createdDate", salesforce_date(c.staged->created_date));
        if (c.staged->expiration_date) {
          json.field_string("expirationDate", salesforce_date(*c.staged->expiration_date));
        } else {
          json.field_null("expirationDate");
        }
        json.end_object();
      }
      json.end_object();
    }
    json.end_array().end_object();
  }
  json.end_array().field_int("liveTokens", live_token_count()).end_object();
  response.set_json(200, json.str());
}

void FakeSalesforce::handle_limits_admin(const HttpRequest& request, HttpResponse& response) {
  if (request.method == "POST") {
    rapidjson::Document doc;
    doc.Parse(request.body.c_str(), request.body.size());
    auto number = [&doc](const char* key) -> std::optional<long long> {
      if (!doc.HasMember(key) || !doc[key].IsInt64() || doc[key].GetInt64() < 0) return {};
      return doc[key].GetInt64();
    };
    if (doc.HasParseError() || !doc.IsObject() || (doc.HasMember("max") && !number("max")) ||
        (doc.HasMember("remaining") && !number("remaining"))) {
      return response.set_json(400, R"({"error":"expected {\"max\": N, \"remaining\": M}"})");
    }
    const DailyApiUsage now = daily_api();
    const long long max = number("max").value_or(now.max);
    set_daily_api(max, number("remaining").value_or(std::min(now.remaining, max)));
  } else if (request.method != "GET") {
    return response.set_json(405, R"({"error":"use GET or POST"})");
  }
  const DailyApiUsage usage = daily_api();
  JsonBuilder json;
  json.begin_object()
      .field_int("max", usage.max)
      .field_int("remaining", usage.remaining)
      .field_int("restRequests", rest_requests())
      .end_object();
  response.set_json(200, json.str());
}

}  // namespace eca::sandbox

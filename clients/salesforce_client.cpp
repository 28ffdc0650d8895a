#include "clients/salesforce_client.h"

#include <algorithm>
#include <set>

#include "clients/http_errors.h"
#include "clients/salesforce_jwt.h"
#include "clients/scrub.h"
#include "common/json.h"

namespace eca {
namespace {

constexpr int kMaxPages = 50;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

StagedState parse_state(std::string_view s) {
  if (s == "Active") return StagedState::Active;
  if (s == "Rotated") return StagedState::Rotated;
  if (s == "Expired") return StagedState::Expired;
  return StagedState::Other;
}

bool parse_staged(const rapidjson::Value& v, SfStaged& out) {
  if (!v.IsObject()) return false;
  auto key = json::str(v, "key");
  if (!key) return false;
  out.key = Secret(*key);
  if (auto s = json::str(v, "secret")) out.secret = Secret(*s);
  if (auto s = json::str(v, "id")) out.id = std::string(*s);
  if (auto s = json::str(v, "state")) out.state = parse_state(*s);
  if (auto s = json::str(v, "createdDate")) out.created_date = std::string(*s);
  if (auto s = json::str(v, "expirationDate")) out.expiration_date = std::string(*s);
  return true;
}

// A relative next-page URL from a response body, if it is safe to follow.
std::optional<std::string> safe_next(const rapidjson::Value& doc) {
  auto next = json::str(doc, "nextPageUrl");
  if (!next || next->empty()) return std::nullopt;
  std::string_view n = *next;
  if (n.substr(0, 16) != "/services/data/v") return std::nullopt;
  if (n.find("..") != std::string_view::npos || n.find("//") != std::string_view::npos ||
      n.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(n);
}

}  // namespace

bool same_sf_id(std::string_view a, std::string_view b) {
  if (a.size() == 18 && b.size() == 18) return a == b;
  if (a.size() < 15 || b.size() < 15) return a == b;
  return a.substr(0, 15) == b.substr(0, 15);
}

const char* to_string(SfAuthMethod method) {
  return method == SfAuthMethod::JwtBearer ? "jwt_bearer" : "client_credentials";
}

SalesforceClient::SalesforceClient(HttpTransport& transport, SalesforceEndpoint endpoint, Now now)
    : transport_(transport),
      ep_(std::move(endpoint)),
      now_(now ? std::move(now) : [] { return std::chrono::system_clock::now(); }),
      session_(session_options()) {
  while (!ep_.my_domain_url.empty() && ep_.my_domain_url.back() == '/')
    ep_.my_domain_url.pop_back();
}

AuthSession::Options SalesforceClient::session_options() {
  AuthSession::Options o;
  // Salesforce tokens carry no lifetime: a 401 INVALID_SESSION_ID is how we learn one
  // expired, and the session logs in again once.
  o.login = [this]() -> Result<AuthSession::Token> {
    auto tok = ep_.auth == SfAuthMethod::JwtBearer
                   ? jwt_token()
                   : token_for(ep_.client_id, ep_.client_secret, "connection \"" + ep_.name + "\"");
    if (!tok) return tok.error();
    AuthSession::Token token;
    token.value = std::move(tok.value());
    return token;
  };
  o.refused = [](const HttpResponse& r) { return r.status == 401; };
  return o;
}

std::string SalesforceClient::base() const {
  return ep_.my_domain_url + "/services/data/" + ep_.api_version;
}

Result<Secret> SalesforceClient::post_token(Secret body, const std::string& what, bool jwt,
                                            std::string& refusal) {
  HttpRequest req;
  req.method = "POST";
  req.url = ep_.my_domain_url + "/services/oauth2/token";
  req.endpoint = "sf.token";
  req.tls = ep_.tls;
  req.content_type = "application/x-www-form-urlencoded";
  req.headers.emplace_back("Accept", "application/json");
  req.body = std::move(body);
  auto res = transport_.send(req);
  if (!res) return res.error();
  HttpResponse& r = res.value();
  rapidjson::Document doc;
  auto parsed = json::parse_in_place(r.body, doc, "Salesforce token answer");
  if (r.status == 200) {
    if (!parsed) return parsed.error();
    auto tok = json::str(doc, "access_token");
    if (!tok || tok->empty()) {
      return Error::permanent("Salesforce token answer for " + what + " has no access_token");
    }
    return Secret(*tok);
  }
  Error e;
  e.http_status = r.status;
  if (parsed) {
    if (auto c = json::str(doc, "error")) e.code = scrub_server_text(*c, 64);
    if (auto d = json::str(doc, "error_description")) refusal = scrub_server_text(*d);
  }
  if (error_kind_for_status(r.status) == ErrorKind::Transient) {
    e.kind = ErrorKind::Transient;
    e.message = "Salesforce token endpoint unavailable for " + what;
    return e;
  }
  e.kind = ErrorKind::Auth;
  e.message = "Salesforce refused the token request for " + what;
  if (!refusal.empty()) e.message += ": " + refusal;
  std::string hint;
  if (jwt) hint = jwt_refusal_hint(e.code, refusal, ep_.name, ep_.username);
  if (!hint.empty()) {
    e.message += "; " + hint;
  } else if (e.code == "invalid_grant" && refusal.find("domain") != std::string::npos) {
    e.message += "; use the org's My Domain URL (https://<MyDomain>.my.salesforce.com)";
  } else if (e.code == "unsupported_grant_type") {
    e.message += "; enable the client credentials flow on the External Client App";
  } else if (e.code == "invalid_grant") {
    e.message += "; check the client credentials flow's run-as user is active and the scopes";
  }
  return e;
}

Result<Secret> SalesforceClient::token_for(const std::string& client_id, const Secret& secret,
                                           const std::string& what) {
  Secret body("grant_type=client_credentials&client_id=");
  json::append_form_encoded(body, client_id);
  body.append("&client_secret=");
  json::append_form_encoded(body, secret.view());
  std::string refusal;
  return post_token(std::move(body), what, /*jwt=*/false, refusal);
}

Result<Secret> SalesforceClient::jwt_token_with(const std::string& audience, std::string& refusal) {
  JwtClaims claims{ep_.client_id, ep_.username, audience, 0};
  claims.exp = std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count() +
               kJwtLifetimeSeconds;
  Result<Secret> assertion = Error::permanent("no signer");
  {
    std::lock_guard<std::mutex> lock(jwt_mu_);
    if (!signer_) {
      auto signer = RsaSigner::from_pem(ep_.private_key_pem,
                                        "[connections." + ep_.name + "] private_key_file");
      if (!signer) return signer.error();
      signer_.emplace(std::move(signer.value()));
    }
    assertion = make_jwt_assertion(*signer_, claims);
  }
  if (!assertion) return assertion.error();
  Secret body("grant_type=");
  json::append_form_encoded(body, kJwtBearerGrant);
  body.append("&assertion=");
  body.append(assertion->view());  // base64url and dots: nothing to encode
  return post_token(std::move(body), "connection \"" + ep_.name + "\" (JWT bearer)",
                    /*jwt=*/true, refusal);
}

// The default audience is a guess by host (spec/identity.md §1): when the org calls it
// invalid, the My Domain URL is tried once, and whichever works is kept for later logins.
Result<Secret> SalesforceClient::jwt_token() {
  std::string audience;
  {
    std::lock_guard<std::mutex> lock(jwt_mu_);
    audience = jwt_audience_;
  }
  const bool guessed = ep_.audience.empty() && audience.empty();
  if (audience.empty())
    audience = ep_.audience.empty() ? default_jwt_audience(ep_.my_domain_url) : ep_.audience;
  std::string refusal;
  auto tok = jwt_token_with(audience, refusal);
  if (!tok && guessed && is_audience_refusal(tok.error().code, refusal) &&
      audience != ep_.my_domain_url) {
    const std::string first = audience;
    audience = ep_.my_domain_url;
    refusal.clear();
    tok = jwt_token_with(audience, refusal);
    if (tok && notice_) {
      notice_("connection \"" + ep_.name + "\": JWT audience " + first +
              " was refused as invalid; the My Domain URL " + audience +
              " worked (set audience to it to skip the first attempt)");
    }
  }
  if (tok) {
    std::lock_guard<std::mutex> lock(jwt_mu_);
    jwt_audience_ = audience;
  }
  return tok;
}

std::string SalesforceClient::auth_summary() const {
  if (ep_.auth == SfAuthMethod::ClientCredentials) return "client credentials";
  std::lock_guard<std::mutex> lock(jwt_mu_);
  std::string aud = jwt_audience_;
  if (aud.empty())
    aud =
        ep_.audience.empty() ? default_jwt_audience(ep_.my_domain_url) + " by host" : ep_.audience;
  return "JWT bearer as " + ep_.username + " (audience " + aud + ")";
}

Status SalesforceClient::authenticate() {
  return session_.log_in();
}

Status SalesforceClient::verify(const Secret& key, const Secret& secret) {
  std::string k(key.view());
  auto tok = token_for(k, secret, "the new consumer key");
  wipe_string(k);
  if (!tok) return tok.error();
  return ok_status();
}

Error SalesforceClient::rest_error(const HttpResponse& response, const std::string& what) const {
  Error e;
  e.http_status = response.status;
  std::string msg;
  // REST errors are an array of {errorCode, message}; tolerate a flat object too.
  Secret copy = response.body.clone();
  rapidjson::Document doc;
  if (!copy.empty() && json::parse_in_place(copy, doc, what)) {
    const rapidjson::Value* first = nullptr;
    if (doc.IsArray() && !doc.Empty()) first = &doc[0];
    if (doc.IsObject()) first = &doc;
    if (first != nullptr) {
      if (auto c = json::str(*first, "errorCode")) e.code = scrub_server_text(*c, 64);
      if (auto m = json::str(*first, "message")) msg = scrub_server_text(*m);
      if (e.code.empty()) {
        if (auto c = json::str(*first, "error")) e.code = scrub_server_text(*c, 64);
      }
    }
  }
  const std::string lmsg = lower(msg);
  e.message = what + " failed";
  if (!msg.empty()) e.message += ": " + msg;
  e.kind = error_kind_for_status(response.status);
  if (e.code == "REQUEST_LIMIT_EXCEEDED") {  // a 403, but it passes
    e.kind = ErrorKind::Transient;
    e.message += "; the org's API request limit is exhausted, retrying later";
    e.retry_after = std::chrono::seconds(3600);
  }
  if (e.kind == ErrorKind::Transient) {
    if (auto wait = requested_wait(response)) e.retry_after = *wait;
    return e;
  }
  if (response.status == 403 && (lmsg.find("not currently enabled") != std::string::npos ||
                                 lmsg.find("feature is not enabled") != std::string::npos ||
                                 lmsg.find("not enabled for this user") != std::string::npos)) {
    e.kind = ErrorKind::Permanent;
    e.message = what +
                " refused: turn on the org setting \"Allow access to External Client App "
                "consumer secrets via REST API\" (Setup > External Client App Settings)";
    return e;
  }
  if (response.status == 403) {
    e.kind = ErrorKind::Permanent;
    e.message +=
        "; the connection's run-as user needs the \"External Client App Developer\" "
        "and \"View Client Secret\" permissions";
    return e;
  }
  if (response.status == 401) {
    e.message += "; the connection's token was refused again after a fresh login";
    return e;
  }
  return e;
}

Result<HttpResponse> SalesforceClient::call_once(const char* method, const std::string& path,
                                                 const char* endpoint, const Secret& body,
                                                 bool is_write, const Secret& token) {
  if (on_rest_call_) on_rest_call_();
  HttpRequest req;
  req.method = method;
  req.url = path.rfind("/services/", 0) == 0 ? ep_.my_domain_url + path : base() + path;
  req.endpoint = endpoint;
  req.tls = ep_.tls;
  req.is_write = is_write;
  req.bearer = token.clone();
  req.headers.emplace_back("Accept", "application/json");
  if (std::string_view(method) != "GET" && std::string_view(method) != "DELETE") {
    req.content_type = "application/json";
    req.body = body.clone();
  }
  return transport_.send(req);
}

Result<HttpResponse> SalesforceClient::call(const char* method, const std::string& path,
                                            const char* endpoint, Secret body, bool is_write) {
  return session_.send(
      [&](Secret token) { return call_once(method, path, endpoint, body, is_write, token); });
}

Result<std::vector<SfApp>> SalesforceClient::apps(int page_size) {
  std::vector<SfApp> out;
  std::set<std::string> seen;
  std::string path = "/apps/oauth/usage?page=0&pageSize=" + std::to_string(page_size);
  for (int page = 0; page < kMaxPages; ++page) {
    auto res = call("GET", path, "sf.usage");
    if (!res) return res.error();
    if (res->status != 200) return rest_error(*res, "listing External Client Apps (R1)");
    rapidjson::Document doc;
    auto p = json::parse_in_place(res->body, doc, "Salesforce R1 answer");
    if (!p) return p.error();
    const auto* apps = json::array(doc, "apps");
    if (apps == nullptr) return Error::permanent("Salesforce R1 answer has no \"apps\" list");
    std::size_t fresh = 0;
    for (const auto& a : apps->GetArray()) {
      auto id = json::str(a, "identifier");
      if (!id || !seen.insert(std::string(*id)).second) continue;
      ++fresh;
      SfApp app;
      app.id = std::string(*id);
      if (auto d = json::str(a, "developerName")) app.developer_name = std::string(*d);
      if (auto l = json::str(a, "label")) app.label = std::string(*l);
      out.push_back(std::move(app));
    }
    // nextPageUrl can be non-null on the last page: an empty page ends the listing.
    auto next = safe_next(doc);
    if (fresh == 0 || !next) break;
    path = *next;
  }
  return out;
}

Result<std::vector<SfConsumer>> SalesforceClient::consumers(const std::string& app_id) {
  std::vector<SfConsumer> out;
  std::set<std::string> seen;
  std::string path = "/apps/oauth/credentials/" + json::url_encode(app_id);
  for (int page = 0; page < kMaxPages; ++page) {
    auto res = call("GET", path, "sf.consumers");
    if (!res) return res.error();
    if (res->status == 404) {
      Error e = rest_error(*res, "reading the consumers of app " + app_id + " (R2)");
      e.message += "; check app_id (the 0xI… identifier of the External Client App)";
      return e;
    }
    if (res->status != 200) return rest_error(*res, "reading the consumers of app " + app_id);
    rapidjson::Document doc;
    auto p = json::parse_in_place(res->body, doc, "Salesforce R2 answer");
    if (!p) return p.error();
    const auto* list = json::array(doc, "consumers");
    if (list == nullptr) return Error::permanent("Salesforce R2 answer has no \"consumers\" list");
    std::size_t fresh = 0;
    for (const auto& c : list->GetArray()) {
      auto id = json::str(c, "id");
      auto key = json::str(c, "key");
      if (!id || !seen.insert(std::string(*id)).second) continue;
      ++fresh;
      SfConsumer con;
      con.id = std::string(*id);
      if (key) con.key = Secret(*key);
      if (auto n = json::str(c, "name")) con.name = std::string(*n);
      out.push_back(std::move(con));
    }
    auto next = safe_next(doc);
    if (fresh == 0 || !next) break;
    path = *next;
  }
  return out;
}

Result<SfDailyApi> SalesforceClient::limits() {
  auto res = call("GET", "/limits", "sf.limits");
  if (!res) return res.error();
  if (res->status != 200) return rest_error(*res, "reading the org's limits");
  rapidjson::Document doc;
  auto p = json::parse_in_place(res->body, doc, "Salesforce limits answer");
  if (!p) return p.error();
  if (!doc.IsObject()) return Error::permanent("Salesforce limits answer is not a JSON object");
  const rapidjson::Value* daily = json::object(doc, "DailyApiRequests");
  if (daily == nullptr) {
    return Error::permanent(
        "Salesforce limits answer has no \"DailyApiRequests\" object (does the connection's "
        "user have the \"View Setup and Configuration\" permission?)");
  }
  auto max = json::integer(*daily, "Max");
  auto remaining = json::integer(*daily, "Remaining");
  if (!max || !remaining) {
    return Error::permanent(std::string("Salesforce limits answer: DailyApiRequests lacks a "
                                        "numeric \"") +
                            (!max ? "Max" : "Remaining") + "\"");
  }
  if (*max < 0 || *remaining < 0 || *remaining > *max) {
    return Error::permanent("Salesforce limits answer: DailyApiRequests has Remaining " +
                            std::to_string(*remaining) + " of Max " + std::to_string(*max) +
                            ", which cannot be");
  }
  return SfDailyApi{*max, *remaining};
}

Result<SfPair> SalesforceClient::read_primary(const std::string& app_id,
                                              const std::string& consumer_id) {
  auto res = call("GET",
                  "/apps/oauth/credentials/" + json::url_encode(app_id) + "/" +
                      json::url_encode(consumer_id) + "?part=keyandsecret",
                  "sf.read_primary");
  if (!res) return res.error();
  if (res->status != 200) return rest_error(*res, "reading the primary credential (R3)");
  rapidjson::Document doc;
  auto p = json::parse_in_place(res->body, doc, "Salesforce R3 answer");
  if (!p) return p.error();
  auto key = json::str(doc, "key");
  auto secret = json::str(doc, "secret");
  if (!key || !secret) return Error::permanent("Salesforce R3 answer lacks key or secret");
  return SfPair{Secret(*key), Secret(*secret)};
}

Result<std::vector<SfStaged>> SalesforceClient::staged(const std::string& app_id,
                                                       const std::string& consumer_id) {
  auto res = call("GET",
                  "/apps/oauth/credentials/" + json::url_encode(app_id) + "/" +
                      json::url_encode(consumer_id) + "/staged",
                  "sf.staged_list");
  if (!res) return res.error();
  if (res->status != 200) return rest_error(*res, "reading the staged slot (R4)");
  rapidjson::Document doc;
  auto p = json::parse_in_place(res->body, doc, "Salesforce R4 answer");
  if (!p) return p.error();
  std::vector<SfStaged> out;
  if (const auto* list = json::array(doc, "stagedCredentials")) {
    for (const auto& s : list->GetArray()) {
      SfStaged st;
      if (parse_staged(s, st)) out.push_back(std::move(st));
    }
  } else if (const auto* one = json::object(doc, "stagedCredentials")) {
    SfStaged st;
    if (parse_staged(*one, st)) out.push_back(std::move(st));
  }
  return out;
}

Result<SfStaged> SalesforceClient::stage(const std::string& app_id,
                                         const std::string& consumer_id) {
  // Always "{}": a body-less POST here hangs until the connection resets.
  auto res = call("POST",
                  "/apps/oauth/credentials/" + json::url_encode(app_id) + "/" +
                      json::url_encode(consumer_id) + "/staged",
                  "sf.stage", Secret("{}"), /*is_write=*/true);
  if (!res) return res.error();
  if (res->status != 200 && res->status != 201) {
    return rest_error(*res, "creating a staged credential (R5)");
  }
  rapidjson::Document doc;
  auto p = json::parse_in_place(res->body, doc, "Salesforce R5 answer");
  if (!p) return Error::unknown(p.error().message + "; the staged credential may exist");
  // The answer's shape is not firmly documented: top level, array or object.
  SfStaged st;
  bool found = parse_staged(doc, st);
  if (!found) {
    if (const auto* list = json::array(doc, "stagedCredentials")) {
      for (const auto& s : list->GetArray()) {
        SfStaged cand;
        if (parse_staged(s, cand) && !cand.secret.empty() &&
            (cand.state == StagedState::Active || cand.state == StagedState::Other)) {
          st = std::move(cand);
          found = true;
        }
      }
    } else if (const auto* one = json::object(doc, "stagedCredentials")) {
      found = parse_staged(*one, st);
    }
  }
  if (!found || st.secret.empty()) {
    return Error::unknown("Salesforce R5 answer did not contain the new key and secret");
  }
  return st;
}

Status SalesforceClient::promote(const std::string& app_id, const std::string& consumer_id,
                                 const std::string& staged_id) {
  auto res = call("PATCH",
                  "/apps/oauth/credentials/" + json::url_encode(app_id) + "/" +
                      json::url_encode(consumer_id) + "/staged/" + json::url_encode(staged_id),
                  "sf.promote", Secret(R"({"command":"rotate"})"), /*is_write=*/true);
  if (!res) return res.error();
  if (res->status >= 200 && res->status < 300) return ok_status();
  return rest_error(*res, "promoting the staged credential (R7)");
}

Status SalesforceClient::revoke(const std::string& app_id, const std::string& consumer_id,
                                const std::string& staged_id) {
  auto res = call("DELETE",
                  "/apps/oauth/credentials/" + json::url_encode(app_id) + "/" +
                      json::url_encode(consumer_id) + "/staged/" + json::url_encode(staged_id),
                  "sf.revoke", Secret(), /*is_write=*/true);
  if (!res) return res.error();
  if ((res->status >= 200 && res->status < 300) || res->status == 404) return ok_status();
  return rest_error(*res, "deleting the staged/rotated credential (R8)");
}

}  // namespace eca

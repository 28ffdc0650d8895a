#include "clients/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/version.h"

namespace eca {

struct CurlTransport::Shared {
  CURLSH* share = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];
};

namespace {

void share_lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<std::mutex*>(user)[data].lock();
}
void share_unlock(CURL*, curl_lock_data data, void* user) {
  static_cast<std::mutex*>(user)[data].unlock();
}

struct Sink {
  HttpResponse* response;
  std::size_t limit;
  bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t n = size * nmemb;
  if (sink->response->body.size() + n > sink->limit) {
    sink->too_large = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  sink->response->body.append(std::string_view(data, n));
  return n;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    response->headers.clear();  // a 100-continue or similar interim answer
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  // Never keep headers that could carry credentials back to us.
  if (name != "set-cookie") response->headers.emplace_back(std::move(name), std::string(value));
  return n;
}

// "user:password" of "scheme://user:password@host...", or "".
std::string userinfo_of(const std::string& url) {
  auto scheme = url.find("://");
  std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  std::size_t end = std::min(url.find_first_of("/?#", start), url.size());
  auto at = url.rfind('@', end);
  if (at == std::string::npos || at < start) return {};
  return url.substr(start, at - start);
}

std::string host_of(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

}  // namespace

std::string redact_url_userinfo(const std::string& url) {
  std::string userinfo = userinfo_of(url);
  if (userinfo.empty()) return url;
  auto start = url.find(userinfo);
  return url.substr(0, start) + "[redacted]" + url.substr(start + userinfo.size());
}

bool is_loopback_url(const std::string& url) {
  std::string host = host_of(url);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool is_metadata_url(const std::string& url) {
  std::string host = host_of(url);
  // A link-local IPv4 literal, not a DNS name that merely starts like one.
  const bool ipv4_literal = std::count(host.begin(), host.end(), '.') == 3 &&
                            host.find_first_not_of("0123456789.") == std::string::npos;
  return (ipv4_literal && host.rfind("169.254.", 0) == 0) || host == "metadata.google.internal" ||
         host == "fd00:ec2::254";
}

CurlTransport::CurlTransport(CurlOptions options)
    : options_(std::move(options)), shared_(std::make_unique<Shared>()) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (options_.user_agent.empty()) options_.user_agent = "eca-rotator/" ECA_ROTATOR_VERSION;
  if (std::string userinfo = userinfo_of(options_.proxy); !userinfo.empty()) {
    proxy_credentials_.push_back(userinfo);
    auto colon = userinfo.find(':');
    if (colon != std::string::npos && colon + 1 < userinfo.size())
      proxy_credentials_.push_back(userinfo.substr(colon + 1));
  }
  shared_->share = curl_share_init();
  curl_share_setopt(shared_->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(shared_->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(shared_->share, CURLSHOPT_USERDATA, shared_->locks);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

CurlTransport::~CurlTransport() {
  for (void* h : pool_) curl_easy_cleanup(static_cast<CURL*>(h));
  curl_share_cleanup(shared_->share);
}

void* CurlTransport::acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      void* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlTransport::release(void* handle) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(handle);
}

TransportStats CurlTransport::stats() const {
  return {requests_.load(), new_connections_.load()};
}

Result<HttpResponse> CurlTransport::send(HttpRequest& request) {
  const bool https = request.url.rfind("https://", 0) == 0;
  const bool http = request.url.rfind("http://", 0) == 0;
  const bool metadata = options_.metadata_service && http && is_metadata_url(request.url);
  if (!https && !(http && is_loopback_url(request.url)) && !metadata) {
    return Error::permanent("refusing to send " + request.endpoint + " to " + host_of(request.url) +
                            " without TLS: only https:// is allowed (http:// only to loopback)");
  }
  const TlsSettings& tls = request.tls;
  if (tls.insecure_skip_verify && !is_loopback_url(request.url)) {
    return Error::permanent("refusing to send " + request.endpoint + " to " + host_of(request.url) +
                            " without certificate verification: insecure_skip_verify is only "
                            "allowed for loopback");
  }
  CURL* curl = static_cast<CURL*>(acquire());
  if (curl == nullptr) return Error::transient("libcurl could not create a handle");
  curl_easy_reset(curl);

  HttpResponse response;
  Sink sink{&response, options_.max_response_bytes};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_SHARE, shared_->share);
  // curl_easy_reset brings the connection cache back to 5: too few for 16 rotations in
  // flight against two hosts, which then evict each other's TLS connections constantly.
  curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, 64L);
  // Servers close idle keep-alive connections (the sandbox after 5 s); reusing one that is
  // half-closed fails with a broken pipe, so do not reuse connections idle for longer.
  curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 4L);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  // libcurl keeps connections and TLS sessions apart when these settings differ, so a
  // request that skips verification never hands its connection to one that verifies.
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls.insecure_skip_verify ? 0L : 2L);
  if (!tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.ca_dir.empty()) curl_easy_setopt(curl, CURLOPT_CAPATH, tls.ca_dir.c_str());
  if (!tls.pinned_public_key.empty())
    curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, tls.pinned_public_key.c_str());
  if (http || options_.metadata_service) {
    // Plain HTTP stays on this machine (or its link-local metadata service): no proxy,
    // whatever the environment says.
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
  } else {
    // Unset: libcurl reads https_proxy / all_proxy / no_proxy from the environment.
    if (!options_.proxy.empty()) curl_easy_setopt(curl, CURLOPT_PROXY, options_.proxy.c_str());
    if (!options_.no_proxy.empty())
      curl_easy_setopt(curl, CURLOPT_NOPROXY, options_.no_proxy.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 0L);  // verbose output would print credentials
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, options_.total_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");

  // Header strings holding a token live in a Secret and are wiped after the call.
  Secret auth_header;
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  if (!request.bearer.empty()) {
    auth_header.append("Authorization: Bearer ");
    auth_header.append(request.bearer.view());
    headers = curl_slist_append(headers, auth_header.c_str());
  }
  if (!request.content_type.empty()) {
    std::string line = "Content-Type: " + request.content_type;
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method != "DELETE" || !request.body.empty()) {
      // POSTFIELDS with an explicit size: a Content-Length header, never chunked
      // (a body-less POST to Salesforce's staged endpoint hangs).
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    }
  }

  CURLcode rc = curl_easy_perform(curl);
  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  // The auth header copies inside the slist are plain heap strings: zero them.
  for (curl_slist* h = headers; h != nullptr; h = h->next) {
    if (std::strncmp(h->data, "Authorization:", 14) == 0)
      std::memset(h->data, 0, std::strlen(h->data));
  }
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
  release(curl);
  request.body.wipe();
  requests_.fetch_add(1, std::memory_order_relaxed);
  new_connections_.fetch_add(connects, std::memory_order_relaxed);
  if (observer_) {
    observer_(request.endpoint, rc == CURLE_OK ? static_cast<int>(status) : 0, connects);
  }

  if (rc == CURLE_OK) {
    response.status = static_cast<int>(status);
    return response;
  }
  std::string what = request.endpoint + " to " + host_of(request.url) + ": ";
  if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return Error::permanent(what + "response larger than " +
                            std::to_string(options_.max_response_bytes >> 20) +
                            " MiB; refusing to read it");
  }
  std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
  // libcurl does not print proxy credentials today; make sure they never reach a message.
  for (const std::string& credential : proxy_credentials_) {
    for (auto pos = detail.find(credential); pos != std::string::npos;
         pos = detail.find(credential))
      detail.replace(pos, credential.size(), "[redacted]");
  }
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return Error::transient(what + "cannot connect (" + detail + ")");
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return Error::permanent(what +
                              "TLS verification failed: the server's public key does not match "
                              "pinned_public_key (" +
                              detail + "); the server's key changed or the pin is wrong");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Error::permanent(what + "TLS verification failed (" + detail +
                              "); check the URL and ca_file or ca_dir");
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error::permanent(what + detail);
    default:
      break;
  }
  if (status == 0 && connects > 0 && rc == CURLE_SSL_CONNECT_ERROR) {
    return Error::transient(what + "TLS handshake failed (" + detail + ")");
  }
  // The request may have reached the server: for a write we cannot tell whether it applied.
  if (request.is_write) return Error::unknown(what + "no complete answer (" + detail + ")");
  return Error::transient(what + "no complete answer (" + detail + ")");
}

}  // namespace eca

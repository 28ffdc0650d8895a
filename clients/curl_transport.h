// CurlTransport: HttpTransport over libcurl.
//
// One transport serves all threads: easy handles are pooled and share one
// connection cache, DNS cache and TLS session cache, so a burst of rotations
// against the same two hosts reuses a handful of TLS connections.
// Discipline: TLS verification always on (insecure_skip_verify only to loopback);
// no redirects; plain HTTP only to loopback (the sandbox), and never through a
// proxy; bodies sent with Content-Length, never chunked; response bodies capped
// before parsing; connect, total and low-speed timeouts.
// Proxies: CurlOptions::proxy / no_proxy when set, otherwise libcurl's standard
// environment variables (https_proxy, HTTPS_PROXY, all_proxy, no_proxy, ...).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "clients/http_transport.h"

namespace eca {

struct CurlOptions {
  long connect_timeout_s = 10;
  long total_timeout_s = 60;
  long low_speed_time_s = 30;  // abort when below 1 byte/s for this long
  std::size_t max_response_bytes = 4 << 20;
  std::string user_agent;  // defaults to eca-rotator/<version>
  std::string proxy;       // "http://[user:password@]host:port"; empty = environment
  std::string no_proxy;    // "host,.domain,10.0.0.0/8"; empty = environment
  // For cloud metadata services: plain HTTP also to their link-local addresses
  // (169.254.0.0/16, fd00:ec2::254, metadata.google.internal), and never a proxy.
  bool metadata_service = false;
};

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> send(HttpRequest& request) override;
  TransportStats stats() const override;

  // Called after every request with its endpoint name, HTTP status (0 = no answer) and
  // how many new connections it opened (0 when it reused one).
  void on_request(std::function<void(const std::string&, int, long)> observer) {
    observer_ = std::move(observer);
  }

 private:
  struct Shared;
  void* acquire();
  void release(void* handle);

  CurlOptions options_;
  std::vector<std::string> proxy_credentials_;  // never to appear in a message
  std::unique_ptr<Shared> shared_;
  std::mutex pool_mu_;
  std::vector<void*> pool_;
  std::atomic<long> requests_{0};
  std::atomic<long> new_connections_{0};
  std::function<void(const std::string&, int, long)> observer_;
};

// Whether a URL's host is a loopback address or "localhost".
bool is_loopback_url(const std::string& url);

// Whether a URL's host is a cloud metadata service's link-local address or name.
bool is_metadata_url(const std::string& url);

// The URL with any "user:password@" replaced by "[redacted]@", for messages.
std::string redact_url_userinfo(const std::string& url);

}  // namespace eca

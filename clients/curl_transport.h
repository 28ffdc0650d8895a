// CurlTransport: HttpTransport over libcurl.
//
// One transport serves all threads: easy handles are pooled and share one
// connection cache, DNS cache and TLS session cache, so a burst of rotations
// against the same two hosts reuses a handful of TLS connections.
// Discipline: TLS verification always on; no redirects; plain HTTP only to
// loopback (the sandbox); bodies sent with Content-Length, never chunked;
// response bodies capped before parsing; connect, total and low-speed timeouts.
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
  long low_speed_time_s = 30;          // abort when below 1 byte/s for this long
  std::size_t max_response_bytes = 4 << 20;
  std::string user_agent;              // defaults to eca-rotator/<version>
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
  std::unique_ptr<Shared> shared_;
  std::mutex pool_mu_;
  std::vector<void*> pool_;
  std::atomic<long> requests_{0};
  std::atomic<long> new_connections_{0};
  std::function<void(const std::string&, int, long)> observer_;
};

// Whether a URL's host is a loopback address or "localhost".
bool is_loopback_url(const std::string& url);

}  // namespace eca

// FakeServer: what the fake Salesforce org and the fake Infisical share.
//
// An httplib server on loopback (plain HTTP, or HTTPS with the test CA's
// certificate) on its own thread, with the misbehaviour the tests need layered
// around the fake's own request handling: global latency, armed faults (error
// answers, resets, lost answers, a SIGKILL hook), and a request log. A subclass
// names each request's endpoint (`classify`) and answers it (`handle`).
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/sandbox/fake_clock.h"
#include "tests/sandbox/fault.h"
#include "tests/sandbox/fault_plan.h"
#include "tests/sandbox/request_log.h"

namespace eca::sandbox {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;           // 0 = an ephemeral port, see FakeServer::port()
  std::string cert_file;  // both set: serve HTTPS
  std::string key_file;
  // httplib serves each connection, idle keep-alive time included, on one pool
  // thread: enough threads that agents with connection caches never queue.
  int threads = 32;
};

struct HttpRequest {
  std::string method;
  std::string path;    // URL-decoded, without the query
  std::string target;  // as sent: raw path and query
  httplib::Params query;
  httplib::Headers headers;
  std::string body;
  bool has_body = false;  // a Content-Length > 0 or a chunked body was sent

  std::string header(const std::string& name) const;
  std::optional<std::string> param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // > 0: answer nothing, hold the connection this long, then drop it (the
  // Salesforce body-less POST quirk). Ends early when the server stops.
  std::chrono::milliseconds hang_then_drop{0};

  void set_json(int code, std::string json);
};

class FakeServer {
 public:
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  virtual ~FakeServer();

  // Binds and serves; throws std::runtime_error when the port or the TLS files
  // cannot be used (a broken test setup, not a condition to handle). After a
  // stop(), start() serves the same port and state again (an outage, not a reset).
  void start();
  // Stops accepting, wakes hanging requests, closes idle keep-alive connections
  // and joins the server thread. Idempotent.
  void stop();
  bool running() const;

  int port() const { return port_; }
  bool https() const { return !options_.cert_file.empty(); }
  std::string base_url() const;  // "http://127.0.0.1:PORT"

  void inject(Fault fault) { faults_.add(std::move(fault)); }
  void clear_faults() { faults_.clear(); }
  void set_latency(std::chrono::milliseconds latency);

  RequestLog& log() { return log_; }
  const RequestLog& log() const { return log_; }
  int request_count(const std::string& endpoint) const { return log_.count(endpoint); }
  void clear_log() { log_.clear(); }

  FakeClock& clock() const { return *clock_; }
  const std::shared_ptr<FakeClock>& shared_clock() const { return clock_; }

 protected:
  // `state_mutex` guards the fake's model; the sandbox hands both fakes the same
  // recursive mutex so an invariant check sees both services at one instant.
  // `json_content_type` is sent for JSON answers, spelled as the real service does.
  FakeServer(ServerOptions options, std::shared_ptr<FakeClock> clock,
             std::shared_ptr<std::recursive_mutex> state_mutex, std::string json_content_type);

  // Endpoint name of a request, for faults and the log. Names starting with
  // "sandbox." (admin routes) are never faulted, delayed or logged.
  virtual std::string classify(const HttpRequest& request) const = 0;
  virtual void handle(const HttpRequest& request, HttpResponse& response) = 0;

  std::recursive_mutex& state_mutex() const { return *state_mutex_; }

 private:
  void serve(const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader* reader);
  bool pause(std::chrono::milliseconds duration);  // false when stopping

  ServerOptions options_;
  std::string json_content_type_;
  std::shared_ptr<FakeClock> clock_;
  std::shared_ptr<std::recursive_mutex> state_mutex_;
  FaultPlan faults_;
  RequestLog log_;
  std::atomic<std::int64_t> latency_ms_{0};

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace eca::sandbox

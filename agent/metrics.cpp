#include "agent/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <set>

namespace eca {
namespace {

double seconds_since_epoch(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string status_class(int status) {
  if (status <= 0) return "none";
  return std::to_string(status / 100) + "xx";
}

std::string service_of(const std::string& endpoint) {
  if (endpoint.rfind("sf.", 0) == 0) return "salesforce";
  if (endpoint.rfind("inf.", 0) == 0) return "infisical";
  if (endpoint.rfind("meta.", 0) == 0) return "metadata";
  return "other";
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

void Metrics::set_rotation(const std::string& name, const RotationState& s) {
  std::lock_guard<std::mutex> lock(mu_);
  rotations_[name] = s;
}

void Metrics::forget_rotations_except(const std::vector<std::string>& names) {
  std::set<std::string> keep(names.begin(), names.end());
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = rotations_.begin(); it != rotations_.end();) {
    it = keep.count(it->first) ? std::next(it) : rotations_.erase(it);
  }
}

void Metrics::count_request(const std::string& endpoint, int status, long new_connections) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status_class(status)}];
  if (new_connections > 0) connections_[service_of(endpoint)] += new_connections;
}

void Metrics::count_salesforce_rest(const std::string& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  ++salesforce_rest_[connection];
}

void Metrics::set_salesforce_daily_api(const std::string& connection, long long remaining,
                                       long long max) {
  std::lock_guard<std::mutex> lock(mu_);
  daily_api_[connection] = {remaining, max};
}

void Metrics::observe_duration(const std::string&, double seconds, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++bucket_counts_[i];
  }
  ++duration_count_;
  duration_sum_ += seconds;
  ++outcomes_[ok ? "success" : "failure"];
}

std::string Metrics::render(TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string o;
  o +=
      "# HELP eca_rotator_last_success_timestamp_seconds When the rotation last published a pair.\n"
      "# TYPE eca_rotator_last_success_timestamp_seconds gauge\n";
  for (const auto& [n, s] : rotations_) {
    if (s.last_success) {
      o += "eca_rotator_last_success_timestamp_seconds{rotation=\"" + n + "\"} " +
           num(seconds_since_epoch(*s.last_success)) + "\n";
    }
  }
  o += "# HELP eca_rotator_next_due_timestamp_seconds When the rotation is next due.\n"
       "# TYPE eca_rotator_next_due_timestamp_seconds gauge\n";
  for (const auto& [n, s] : rotations_) {
    if (s.next_due) {
      o += "eca_rotator_next_due_timestamp_seconds{rotation=\"" + n + "\"} " +
           num(seconds_since_epoch(*s.next_due)) + "\n";
    }
  }
  o += "# HELP eca_rotator_consecutive_failures Failed attempts since the last success.\n"
       "# TYPE eca_rotator_consecutive_failures gauge\n";
  for (const auto& [n, s] : rotations_) {
    o += "eca_rotator_consecutive_failures{rotation=\"" + n + "\"} " +
         std::to_string(s.consecutive_failures) + "\n";
  }
  o += "# HELP eca_rotator_generation Generation of the published pair.\n"
       "# TYPE eca_rotator_generation gauge\n";
  for (const auto& [n, s] : rotations_) {
    o += "eca_rotator_generation{rotation=\"" + n + "\"} " + std::to_string(s.generation) + "\n";
  }
  o += "# HELP eca_rotator_requests_total HTTP requests by service, endpoint and status class.\n"
       "# TYPE eca_rotator_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    o += "eca_rotator_requests_total{service=\"" + service_of(k.first) + "\",endpoint=\"" +
         k.first + "\",status=\"" + k.second + "\"} " + std::to_string(v) + "\n";
  }
  o += "# HELP eca_rotator_connections_opened_total New connections (TCP and TLS handshakes) by "
       "service; a steady rise per request means connections are not being reused.\n"
       "# TYPE eca_rotator_connections_opened_total counter\n";
  for (const auto& [k, v] : connections_) {
    o += "eca_rotator_connections_opened_total{service=\"" + k + "\"} " + std::to_string(v) + "\n";
  }
  o += "# HELP eca_rotator_salesforce_rest_calls_total REST requests the agent sent to each "
       "connection's org (each counts against the org's daily API requests).\n"
       "# TYPE eca_rotator_salesforce_rest_calls_total counter\n";
  for (const auto& [k, v] : salesforce_rest_) {
    o += "eca_rotator_salesforce_rest_calls_total{connection=\"" + k + "\"} " + std::to_string(v) +
         "\n";
  }
  o += "# HELP eca_rotator_salesforce_daily_api_remaining The org's DailyApiRequests.Remaining "
       "when the agent last read its limits.\n"
       "# TYPE eca_rotator_salesforce_daily_api_remaining gauge\n";
  for (const auto& [k, v] : daily_api_) {
    o += "eca_rotator_salesforce_daily_api_remaining{connection=\"" + k + "\"} " +
         std::to_string(v.first) + "\n";
  }
  o += "# HELP eca_rotator_salesforce_daily_api_max The org's DailyApiRequests.Max when the agent "
       "last read its limits.\n"
       "# TYPE eca_rotator_salesforce_daily_api_max gauge\n";
  for (const auto& [k, v] : daily_api_) {
    o += "eca_rotator_salesforce_daily_api_max{connection=\"" + k + "\"} " +
         std::to_string(v.second) + "\n";
  }
  o += "# HELP eca_rotator_rotations_total Rotation attempts by outcome.\n"
       "# TYPE eca_rotator_rotations_total counter\n";
  for (const auto& [k, v] : outcomes_) {
    o += "eca_rotator_rotations_total{outcome=\"" + k + "\"} " + std::to_string(v) + "\n";
  }
  o += "# HELP eca_rotator_rotation_duration_seconds Wall time of rotation attempts.\n"
       "# TYPE eca_rotator_rotation_duration_seconds histogram\n";
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    o += "eca_rotator_rotation_duration_seconds_bucket{le=\"" + num(kBuckets[i]) + "\"} " +
         std::to_string(bucket_counts_[i]) + "\n";
  }
  o += "eca_rotator_rotation_duration_seconds_bucket{le=\"+Inf\"} " +
       std::to_string(duration_count_) + "\n";
  o += "eca_rotator_rotation_duration_seconds_sum " + num(duration_sum_) + "\n";
  o += "eca_rotator_rotation_duration_seconds_count " + std::to_string(duration_count_) + "\n";
  o += "# HELP eca_rotator_healthy 1 while no rotation is overdue or failing.\n"
       "# TYPE eca_rotator_healthy gauge\n";
  render_deliveries(o, now);
  bool healthy = delivery_lag_locked(now).empty();
  for (const auto& [n, s] : rotations_) {
    if (s.consecutive_failures > 0) healthy = false;
    if (s.auto_rotation && s.next_due && *s.next_due + std::chrono::hours(1) < now) healthy = false;
  }
  o += std::string("eca_rotator_healthy ") + (healthy ? "1" : "0") + "\n";
  return o;
}

std::string Metrics::unhealthy_reason(TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [n, s] : rotations_) {
    if (s.consecutive_failures > 0) {
      return "rotation " + n + " is failing (" + std::to_string(s.consecutive_failures) +
             " consecutive failures)";
    }
    // An hour of grace covers a rotation in progress and its retries.
    if (s.auto_rotation && s.next_due && *s.next_due + std::chrono::hours(1) < now) {
      return "rotation " + n + " is overdue since " + format_utc(*s.next_due);
    }
  }
  return delivery_lag_locked(now);
}

MetricsServer::MetricsServer(const Metrics& metrics, const Clock& clock)
    : metrics_(metrics), clock_(clock) {}

MetricsServer::~MetricsServer() {
  stop_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes the blocked poll
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::string MetricsServer::start(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return "metrics_listen must be HOST:PORT, e.g. 127.0.0.1:9464";
  std::string host = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) return "metrics_listen has an invalid port";
  bool v6 = host.size() > 2 && host.front() == '[';
  if (v6) host = host.substr(1, host.size() - 2);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return "metrics_listen: bad address";
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return "metrics_listen: bad address";
    len = sizeof *a;
  }
  fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int yes = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(fd_, 16) != 0) {
    return "cannot listen on " + listen + ": " + std::strerror(errno);
  }
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  thread_ = std::thread([this] { serve(); });
  return "";
}

void MetricsServer::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    // Wakes only for scrapes (and the shutdown in the destructor): no idle timer.
    if (::poll(&p, 1, -1) <= 0) continue;
    if (stop_) break;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[1024];
    ssize_t n = ::recv(c, buf, sizeof buf - 1, 0);
    std::string req(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    std::string status = "404 Not Found", body = "not found\n", type = "text/plain";
    const TimePoint now = clock_.now();
    if (req.rfind("GET /metrics", 0) == 0) {
      status = "200 OK";
      body = metrics_.render(now);
      type = "text/plain; version=0.0.4";
    } else if (req.rfind("GET /healthz", 0) == 0) {
      std::string why = metrics_.unhealthy_reason(now);
      status = why.empty() ? "200 OK" : "503 Service Unavailable";
      body = why.empty() ? "ok\n" : why + "\n";
    }
    std::string resp = "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
                       "\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    ::close(c);
  }
}

}  // namespace eca

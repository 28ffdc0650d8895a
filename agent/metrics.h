// Metrics: what operators graph and alert on, in Prometheus text format, served
// from a loopback HTTP endpoint (`[agent] metrics_listen`, with /healthz) and/or
// written atomically as a node_exporter textfile (`[agent] metrics_file`).
// Only names, counts and times: never a secret.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace eca {

class Metrics {
 public:
  struct RotationState {
    std::optional<TimePoint> last_success;
    std::optional<TimePoint> next_due;
    int consecutive_failures = 0;
    long generation = 0;
    bool auto_rotation = true;
  };

  // A [[deliver]]: what it holds and whether it keeps up with its source.
  struct DeliveryState {
    long generation = 0;                      // the generation delivered (0: none yet)
    std::optional<TimePoint> source_changed;  // when the source's current pair was rotated
    // Since when it has not held the source's current pair (a newer generation it could
    // not deliver, or a source it could not read); unset while it is current.
    std::optional<TimePoint> behind_since;
    std::chrono::seconds max_lag{0};  // share of the source's interval; then unhealthy
    std::string error_stage;          // "" or fetch|open|write: the last error's step
  };

  void set_rotation(const std::string& name, const RotationState& s);
  void set_delivery(const std::string& name, const DeliveryState& s);  // delivery_metrics.cpp
  void forget_rotations_except(const std::vector<std::string>& names);
  // status 0 = no answer; new_connections: connections (TCP + TLS handshakes) it opened.
  void count_request(const std::string& endpoint, int status, long new_connections = 0);
  void observe_duration(const std::string& name, double seconds, bool ok);
  // One REST request the agent sent to a connection's org (what counts against its daily
  // API requests), and the org's DailyApiRequests when last read.
  void count_salesforce_rest(const std::string& connection);
  void set_salesforce_daily_api(const std::string& connection, long long remaining, long long max);

  std::string render(TimePoint now) const;
  // "" when healthy, else why not (an overdue or failing rotation).
  std::string unhealthy_reason(TimePoint now) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, RotationState> rotations_;
  std::map<std::string, DeliveryState> deliveries_;
  // Under mu_ (delivery_metrics.cpp): the delivery series, and why one lags ("" if none).
  void render_deliveries(std::string& out, TimePoint now) const;
  std::string delivery_lag_locked(TimePoint now) const;
  std::map<std::pair<std::string, std::string>, long> requests_;      // (endpoint, class) -> n
  std::map<std::string, long> connections_;                           // service -> opened
  std::map<std::string, long> salesforce_rest_;                       // connection -> sent
  std::map<std::string, std::pair<long long, long long>> daily_api_;  // -> (remaining, max)
  static constexpr std::array<double, 8> kBuckets{0.5, 1, 2, 5, 10, 30, 60, 300};
  std::array<long, kBuckets.size()> bucket_counts_{};
  long duration_count_ = 0;
  double duration_sum_ = 0;
  std::map<std::string, long> outcomes_;  // "success"/"failure" -> n
};

// A minimal HTTP/1.0 responder for GET /metrics and GET /healthz on one thread.
class MetricsServer {
 public:
  MetricsServer(const Metrics& metrics, const Clock& clock);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // listen: "127.0.0.1:9464" or "[::1]:9464". Error message on failure, "" on success.
  std::string start(const std::string& listen);
  int port() const { return port_; }

 private:
  void serve();
  const Metrics& metrics_;
  const Clock& clock_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace eca

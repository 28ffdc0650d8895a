// RequestLog: what a fake server was asked, for assertions and the exit summary.
// Only method, path (never the query string, which could carry a secret),
// endpoint name and answered status are kept.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace eca::sandbox {

struct RequestRecord {
  std::chrono::system_clock::time_point when;  // fake clock
  std::string method;
  std::string path;
  std::string endpoint;
  int status = 0;  // 0 = no answer (reset, dropped after a hang)
};

class RequestLog {
 public:
  void record(RequestRecord entry);
  void clear();

  std::vector<RequestRecord> entries() const;
  int count(const std::string& endpoint) const;  // "*" = all
  int count(const std::string& endpoint, int status) const;
  std::map<std::string, int> count_by_endpoint() const;

 private:
  mutable std::mutex mu_;
  std::vector<RequestRecord> entries_;
};

}  // namespace eca::sandbox

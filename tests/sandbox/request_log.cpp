#include "tests/sandbox/request_log.h"

namespace eca::sandbox {

void RequestLog::record(RequestRecord entry) {
  std::lock_guard lock(mu_);
  entries_.push_back(std::move(entry));
}

void RequestLog::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

std::vector<RequestRecord> RequestLog::entries() const {
  std::lock_guard lock(mu_);
  return entries_;
}

int RequestLog::count(const std::string& endpoint) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& e : entries_) n += endpoint == "*" || e.endpoint == endpoint;
  return n;
}

int RequestLog::count(const std::string& endpoint, int status) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& e : entries_) {
    n += (endpoint == "*" || e.endpoint == endpoint) && e.status == status;
  }
  return n;
}

std::map<std::string, int> RequestLog::count_by_endpoint() const {
  std::lock_guard lock(mu_);
  std::map<std::string, int> counts;
  for (const auto& e : entries_) ++counts[e.endpoint];
  return counts;
}

}  // namespace eca::sandbox

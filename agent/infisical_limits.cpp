#include "agent/infisical_limits.h"

#include <algorithm>
#include <cctype>

namespace eca {
namespace {

// The host of an https:// URL, lower-cased ("" when there is none).
std::string host_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const auto start = scheme + 3;
  const auto end = url.find_first_of(":/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

RateLimits default_infisical_rate_limits(const std::string& url) {
  const std::string host = host_of(url);
  if (host == "infisical.com" || ends_with(host, ".infisical.com")) {
    return RateLimits::infisical_cloud();
  }
  return {};
}

RequestCost publish_request_cost() {
  RequestCost cost;
  cost.add(RequestCategory::Global, 2).add(RequestCategory::Secret, 2);
  return cost;
}

}  // namespace eca

#include "clients/http_errors.h"

#include <algorithm>

namespace eca {
namespace {

constexpr long kMaxWaitSeconds = 24 * 3600;

// The decimal number at the start of `s`, if there is one (saturating at the cap).
std::optional<long> leading_seconds(std::string_view s) {
  long n = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    n = std::min(kMaxWaitSeconds, n * 10 + (s[i] - '0'));
  }
  if (i == 0) return std::nullopt;
  return n;
}

}  // namespace

ErrorKind error_kind_for_status(int status) {
  if (status == 429 || status == 408 || status >= 500) return ErrorKind::Transient;
  if (status == 401) return ErrorKind::Auth;
  return ErrorKind::Permanent;
}

std::optional<std::chrono::seconds> requested_wait(const HttpResponse& response,
                                                   std::string_view message) {
  std::optional<long> wait;
  if (const std::string* header = response.header("retry-after")) {
    std::string_view v = *header;
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    wait = leading_seconds(v);  // an HTTP-date form is ignored: neither service sends it
  }
  constexpr std::string_view kPhrase = "try again in ";
  if (auto pos = message.find(kPhrase); pos != std::string_view::npos) {
    if (auto n = leading_seconds(message.substr(pos + kPhrase.size()))) {
      wait = std::max(wait.value_or(0), *n);
    }
  }
  if (!wait) return std::nullopt;
  return std::chrono::seconds(*wait);
}

}  // namespace eca

// BudgetedTransport: an HttpTransport in front of another that admits each request
// through a RequestBudget (so every worker of the process shares one budget), and turns
// a 429 into a pause for everybody: the server's wait ("try again in N seconds" or
// `retry-after`) stops all requests through the budget, then the refused request is sent
// again (a 429 means the server did nothing, so a write may be repeated). A 429 asking for
// more than one window of the budget is returned as it is, and pauses nobody.
#pragma once

#include <atomic>

#include "clients/http_transport.h"
#include "clients/request_budget.h"

namespace eca {

// The category Infisical counts a request against: the secret routes are "secret",
// any other GET "read", anything else (login and renewal included) "write".
RequestCategory infisical_category(const HttpRequest& request);

// The wait a 429 answer asks for (requested_wait: `retry-after` or the message's "try
// again in N seconds", whichever is longer); 60 s when it says neither.
std::chrono::seconds wait_of_429(const HttpResponse& response);

class BudgetedTransport : public HttpTransport {
 public:
  BudgetedTransport(HttpTransport& inner, RequestBudget& budget) : inner_(inner), budget_(budget) {}
  Result<HttpResponse> send(HttpRequest& request) override;
  TransportStats stats() const override { return inner_.stats(); }
  // 429 answers received.
  long rate_limited() const { return rate_limited_.load(); }

  // How often one request is sent again after a 429 before the 429 is returned (unless
  // the budget's longest wait has passed first).
  static constexpr int kMaxResends = 50;

 private:
  HttpTransport& inner_;
  RequestBudget& budget_;
  std::atomic<long> rate_limited_{0};
};

}  // namespace eca

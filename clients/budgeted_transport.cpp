#include "clients/budgeted_transport.h"

#include <set>
#include <string>

#include "clients/http_errors.h"

namespace eca {

RequestCategory infisical_category(const HttpRequest& request) {
  static const std::set<std::string> kSecretRoutes = {
      "inf.list",   "inf.list_recursive", "inf.get",          "inf.create",      "inf.update",
      "inf.delete", "inf.upsert",         "inf.batch_create", "inf.batch_delete"};
  if (kSecretRoutes.count(request.endpoint) != 0) return RequestCategory::Secret;
  return request.method == "GET" ? RequestCategory::Read : RequestCategory::Write;
}

std::chrono::seconds wait_of_429(const HttpResponse& response) {
  return requested_wait(response, response.body.view()).value_or(std::chrono::seconds(60));
}

Result<HttpResponse> BudgetedTransport::send(HttpRequest& request) {
  const RequestCategory category = infisical_category(request);
  // The transport wipes the body it sent; keep a copy for a resend after a 429.
  Secret body = request.body.clone();
  const auto first = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    auto ticket = budget_.acquire(category);
    if (!ticket) return ticket.error();
    if (attempt > 0) request.body = body.clone();
    auto res = inner_.send(request);
    ticket->done();  // the window counts from the answer
    if (!res || res->status != 429) return res;
    ++rate_limited_;
    // A wait longer than one window is not a per-minute limit running over: the caller
    // gets the 429 (the daemon's backoff honours the wait on its own clock) rather than
    // every worker being held that long.
    const std::chrono::seconds wait = wait_of_429(*res);
    if (wait > budget_.limits().window) return res;
    // Someone else shares the limit (another agent behind the same address), or the
    // windows disagree: nobody sends until the server's wait is over.
    budget_.pause_for(wait);
    // Several workers may be refused in the same window and all come back when it ends;
    // keep trying for as long as a wait for the limits may last, not a fixed count.
    if (attempt >= kMaxResends || std::chrono::steady_clock::now() - first > budget_.max_wait()) {
      return res;
    }
  }
}

}  // namespace eca

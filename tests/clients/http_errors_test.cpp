// clients/http_errors: one reading of a failed status and of the wait it asks for.
#include "clients/http_errors.h"

#include <gtest/gtest.h>

namespace eca {
namespace {

HttpResponse with_retry_after(const char* value) {
  HttpResponse r;
  r.status = 429;
  if (value != nullptr) r.headers.emplace_back("retry-after", value);
  return r;
}

TEST(HttpErrors, StatusesMapToWhatTheAgentDoesNext) {
  for (int s : {408, 429, 500, 502, 503, 504}) {
    EXPECT_EQ(error_kind_for_status(s), ErrorKind::Transient) << s;
  }
  EXPECT_EQ(error_kind_for_status(401), ErrorKind::Auth);
  for (int s : {400, 403, 404, 409, 422}) {
    EXPECT_EQ(error_kind_for_status(s), ErrorKind::Permanent) << s;
  }
}

TEST(HttpErrors, TheWaitComesFromTheHeaderOrTheMessageWhicheverIsLonger) {
  EXPECT_EQ(requested_wait(with_retry_after("12")), std::chrono::seconds(12));
  EXPECT_EQ(requested_wait(with_retry_after(" 7")), std::chrono::seconds(7));
  EXPECT_EQ(requested_wait(with_retry_after(nullptr),
                           "Rate limit exceeded. Please try again in 34 seconds"),
            std::chrono::seconds(34));
  EXPECT_EQ(requested_wait(with_retry_after("40"), "try again in 34 seconds"),
            std::chrono::seconds(40));
  EXPECT_EQ(requested_wait(with_retry_after(nullptr), "no wait here"), std::nullopt);
  EXPECT_EQ(requested_wait(with_retry_after("Wed, 21 Oct 2026 07:28:00 GMT")), std::nullopt);
}

TEST(HttpErrors, AHostileWaitIsCappedAtADay) {
  EXPECT_EQ(requested_wait(with_retry_after("99999999999999999999999")),
            std::chrono::seconds(24 * 3600));
}

}  // namespace
}  // namespace eca

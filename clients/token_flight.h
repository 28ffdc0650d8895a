// TokenFlight: one token fetch at a time per client.
//
// When a burst of rotations starts, every worker finds the token cache empty at once.
// Without this each would log in (16 logins for one token, and against Infisical each
// refused one counts towards the identity's lockout). Callers queue behind the fetch in
// progress, then use its token, or get its error instead of trying again themselves.
#pragma once

#include <functional>
#include <mutex>
#include <optional>

#include "common/result.h"

namespace eca {

class TokenFlight {
 public:
  // `cached()` says whether a usable token is there now; `fetch()` obtains and stores one.
  Status run(const std::function<bool()>& cached, const std::function<Status()>& fetch) {
    long seen = 0;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      seen = fetches_;
    }
    std::lock_guard<std::mutex> one_at_a_time(flight_mu_);
    if (cached()) return ok_status();
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      if (fetches_ != seen && last_error_) return *last_error_;  // failed while we waited
    }
    Status st = fetch();
    std::lock_guard<std::mutex> lock(state_mu_);
    ++fetches_;
    if (st) {
      last_error_.reset();
    } else {
      last_error_ = st.error();
    }
    return st;
  }

 private:
  std::mutex flight_mu_;
  std::mutex state_mu_;
  long fetches_ = 0;
  std::optional<Error> last_error_;
};

}  // namespace eca

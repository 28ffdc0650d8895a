// Fault: one way a fake server misbehaves on purpose, for the tests that prove the
// agent survives errors, timeouts, lost answers and crashes at any step.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace eca::sandbox {

struct Fault {
  // Which requests: an endpoint name ("sf.promote", "inf.upsert", ...; see each
  // fake's header) or "*" for every endpoint except the sandbox admin routes.
  std::string endpoint = "*";

  // > 0: answer this status, content type and raw body instead of the real answer.
  int status = 0;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  // Added before the request is handled (on top of the server's global latency).
  int latency_ms = 0;

  // Close the connection without any answer (an abortive close: the client sees a
  // reset). Takes precedence over `status`.
  bool reset = false;

  // Perform the real operation first, then answer the fault (or reset), so the
  // client does not learn that its write happened: the "unknown outcome" case.
  bool apply_then_fail = false;

  // > 0: after the real operation is applied and before anything is answered,
  // SIGKILL this process (the agent under test): a crash at exactly this step.
  // Implies the operation is applied. Without status/reset the real answer is
  // still sent, to nobody.
  pid_t kill_pid = 0;

  // How many matching requests this fault affects; -1 = every one from now on.
  int times = 1;

  // How many matching requests pass untouched before the fault starts (e.g. the second
  // token request of a run is the verification of a new credential).
  int skip = 0;

  // ---- the usual kinds
  // Answer `status`/`body` instead (the operation does not happen).
  static Fault answer(std::string endpoint, int status, std::string body, int times = 1) {
    Fault f;
    f.endpoint = std::move(endpoint);
    f.status = status;
    f.body = std::move(body);
    f.times = times;
    return f;
  }
  // Reset the connection before doing anything.
  static Fault drop(std::string endpoint, int times = 1) {
    Fault f;
    f.endpoint = std::move(endpoint);
    f.reset = true;
    f.times = times;
    return f;
  }
  // Do the operation, then reset: the client cannot know whether it happened.
  static Fault lose_answer(std::string endpoint, int times = 1) {
    Fault f = drop(std::move(endpoint), times);
    f.apply_then_fail = true;
    return f;
  }
  // Do the operation, SIGKILL `pid`, then reset: a crash right after this step.
  static Fault crash_after(std::string endpoint, pid_t pid) {
    Fault f = lose_answer(std::move(endpoint));
    f.kill_pid = pid;
    return f;
  }
  // Answer for real, `ms` later.
  static Fault delay(std::string endpoint, int ms, int times = 1) {
    Fault f;
    f.endpoint = std::move(endpoint);
    f.latency_ms = ms;
    f.times = times;
    return f;
  }

  // Whether the real operation runs for a request this fault hits.
  bool applies_operation() const {
    return apply_then_fail || kill_pid > 0 || (status == 0 && !reset);
  }
};

}  // namespace eca::sandbox

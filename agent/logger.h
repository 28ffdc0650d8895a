// Logger: one line per event on stderr, as text (with journald priority
// prefixes when running under systemd) or JSON. Thread-safe. Callers pass
// only non-secret strings: secrets never reach this type. A failed step says what
// happened (message), what it means for the credential (impact) and what happens
// next (next): in text, "MESSAGE. Credential: IMPACT. Next: NEXT."; in JSON, fields.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/config.h"

namespace eca {

enum class LogLevel { Debug, Info, Warning, Error };

struct LogEvent {
  LogLevel level = LogLevel::Info;
  std::string_view rotation;  // may be empty
  std::string_view
      step;  // protocol step: inspect, reconcile, stage, verify, promote, publish, commit
  std::string_view message;
  std::string_view request_id;  // Infisical reqId, when an error carries one
  std::string_view impact;      // what it means for the credential; may be empty
  std::string_view next;        // what happens next (retry time, command to run); may be empty
};

class Progress;

class Logger {
 public:
  explicit Logger(LogFormat format = LogFormat::Text, std::FILE* out = stderr);
  void set_format(LogFormat f) { format_ = f; }
  void set_min_level(LogLevel l) { min_ = l; }
  // While a progress line is attached, each log line clears it and draws it again after.
  // Null detaches. The Progress must outlive its attachment.
  void set_progress(Progress* p);
  void log(const LogEvent& e);

  void info(std::string_view rotation, std::string_view step, std::string_view msg) {
    log({LogLevel::Info, rotation, step, msg, {}, {}, {}});
  }
  void warn(std::string_view rotation, std::string_view step, std::string_view msg) {
    log({LogLevel::Warning, rotation, step, msg, {}, {}, {}});
  }
  void error(std::string_view rotation, std::string_view step, std::string_view msg,
             std::string_view request_id = {}) {
    log({LogLevel::Error, rotation, step, msg, request_id, {}, {}});
  }

 private:
  std::mutex mu_;
  LogFormat format_;
  std::FILE* out_;
  LogLevel min_ = LogLevel::Info;
  bool journald_ = false;
  Progress* progress_ = nullptr;
};

}  // namespace eca

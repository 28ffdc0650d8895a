// Logger: one line per event on stderr, as text (with journald priority
// prefixes when running under systemd) or JSON. Thread-safe. Callers pass
// only non-secret strings: secrets never reach this type.
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
  std::string_view rotation;    // may be empty
  std::string_view step;        // protocol step: inspect, reconcile, stage, verify, promote, publish, commit
  std::string_view message;
  std::string_view request_id;  // Infisical reqId, when an error carries one
};

class Logger {
 public:
  explicit Logger(LogFormat format = LogFormat::Text, std::FILE* out = stderr);
  void set_format(LogFormat f) { format_ = f; }
  void set_min_level(LogLevel l) { min_ = l; }
  void log(const LogEvent& e);

  void info(std::string_view rotation, std::string_view step, std::string_view msg) {
    log({LogLevel::Info, rotation, step, msg, {}});
  }
  void warn(std::string_view rotation, std::string_view step, std::string_view msg) {
    log({LogLevel::Warning, rotation, step, msg, {}});
  }
  void error(std::string_view rotation, std::string_view step, std::string_view msg,
             std::string_view request_id = {}) {
    log({LogLevel::Error, rotation, step, msg, request_id});
  }

 private:
  std::mutex mu_;
  LogFormat format_;
  std::FILE* out_;
  LogLevel min_ = LogLevel::Info;
  bool journald_ = false;
};

}  // namespace eca

#include "agent/logger.h"

#include <cstdlib>
#include <ctime>

#include "agent/progress.h"
#include "common/clock.h"
#include "common/json.h"

namespace eca {
namespace {

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Error:
      return "error";
  }
  return "info";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Debug:
      return 7;
    case LogLevel::Info:
      return 6;
    case LogLevel::Warning:
      return 4;
    case LogLevel::Error:
      return 3;
  }
  return 6;
}

// "text" without a trailing full stop, so parts can be joined into sentences.
std::string_view clause(std::string_view s) {
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

Logger::Logger(LogFormat format, std::FILE* out) : format_(format), out_(out) {
  // systemd sets JOURNAL_STREAM when stderr is connected to the journal.
  journald_ = std::getenv("JOURNAL_STREAM") != nullptr;
}

void Logger::log(const LogEvent& e) {
  if (static_cast<int>(e.level) < static_cast<int>(min_)) return;
  std::string line;
  if (format_ == LogFormat::Json) {
    line = "{\"time\":\"" + format_utc(std::chrono::system_clock::now()) + "\",\"level\":\"" +
           level_name(e.level) + "\"";
    if (!e.rotation.empty()) line += ",\"rotation\":\"" + json::escape(e.rotation) + "\"";
    if (!e.step.empty()) line += ",\"step\":\"" + json::escape(e.step) + "\"";
    line += ",\"message\":\"" + json::escape(e.message) + "\"";
    if (!e.request_id.empty()) line += ",\"request_id\":\"" + json::escape(e.request_id) + "\"";
    if (!e.impact.empty()) line += ",\"impact\":\"" + json::escape(e.impact) + "\"";
    if (!e.next.empty()) line += ",\"next\":\"" + json::escape(e.next) + "\"";
    line += "}\n";
  } else {
    if (journald_)
      line = "<" + std::to_string(syslog_priority(e.level)) + ">";
    else
      line = std::string(level_name(e.level)) + ": ";
    if (!e.rotation.empty()) line += "[" + std::string(e.rotation) + "] ";
    if (!e.step.empty()) line += std::string(e.step) + ": ";
    if (e.impact.empty() && e.next.empty()) {
      line += e.message;  // Error::describe() already names the reqId
    } else {
      line += clause(e.message);
      if (!e.impact.empty()) line += ". Credential: " + std::string(clause(e.impact));
      if (!e.next.empty()) line += ". Next: " + std::string(clause(e.next));
      line += ".";
    }
    line += "\n";
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto write = [&] {
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
  };
  if (progress_ != nullptr) {
    progress_->interject(write);
  } else {
    write();
  }
}

void Logger::set_progress(Progress* p) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_ = p;
}

}  // namespace eca

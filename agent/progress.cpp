#include "agent/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace eca {
namespace {

constexpr std::string_view kClear = "\r\033[K";

void write_stderr(std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nothing sensible to do about a broken terminal
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

bool progress_wanted(int fd, LogFormat format, bool no_progress) {
  if (no_progress || format != LogFormat::Text) return false;
  const char* term = std::getenv("TERM");
  if (term == nullptr || *term == '\0' || std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(fd) == 1;
}

Progress::Progress(std::string verb, std::size_t total, ProgressOptions options)
    : opts_(std::move(options)), verb_(std::move(verb)), total_(total) {
  if (!opts_.write) opts_.write = write_stderr;
  if (!opts_.now) opts_.now = [] { return std::chrono::steady_clock::now(); };
  if (opts_.terminal && opts_.columns <= 0) opts_.columns = terminal_columns();
}

Progress::~Progress() {
  finish();
}

std::size_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

std::size_t Progress::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

std::string Progress::text() const {
  std::lock_guard<std::mutex> lock(mu_);
  return text_locked();
}

std::string Progress::text_locked() const {
  std::string s = verb_ + " " + std::to_string(done_) + "/" + std::to_string(total_);
  if (failed_ > 0) s += " (" + std::to_string(failed_) + " failed)";
  // Before the current items: a long list is what gets cut to the terminal width.
  if (!waiting_for_.empty()) {
    const auto left = waiting_until_ - opts_.now();
    if (left > std::chrono::steady_clock::duration::zero()) {
      s += " - waiting " + std::to_string(std::chrono::ceil<std::chrono::seconds>(left).count()) +
           " s for " + waiting_for_;
    }
  }
  if (!current_.empty()) {
    s += " - current: ";
    for (std::size_t i = 0; i < current_.size(); ++i) {
      if (i > 0) s += ", ";
      s += current_[i];
    }
  }
  // One column is left free: a line that fills the last column wraps on some terminals.
  const auto room = static_cast<std::size_t>(std::max(opts_.columns - 1, 10));
  if (opts_.columns > 0 && s.size() > room) s = s.substr(0, room - 3) + "...";
  return s;
}

void Progress::draw_locked(bool force) {
  if (!opts_.terminal || finished_) return;
  const auto now = opts_.now();
  if (!force && drawn_once_ && now - last_draw_ < opts_.min_interval) return;
  std::string out(kClear);
  out += text_locked();
  opts_.write(out);
  shown_ = true;
  drawn_once_ = true;
  last_draw_ = now;
}

void Progress::clear_locked() {
  if (!shown_) return;
  opts_.write(kClear);
  shown_ = false;
}

void Progress::begin(std::string_view item) {
  std::lock_guard<std::mutex> lock(mu_);
  current_.emplace_back(item);
  draw_locked(false);
}

void Progress::end(std::string_view item, bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find(current_.begin(), current_.end(), item);
  if (it != current_.end()) current_.erase(it);
  ++done_;
  if (failed) ++failed_;
  draw_locked(true);
}

void Progress::waiting(std::chrono::milliseconds wait, std::string_view why) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = opts_.now();
  // A new hold shows at once; the many short waits of a paced burst redraw at most every
  // min_interval like everything else.
  const bool fresh = waiting_for_.empty() || waiting_until_ <= now;
  waiting_for_ = std::string(why);
  waiting_until_ = now + wait;
  draw_locked(fresh);
}

void Progress::interject(const std::function<void()>& print) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool was_shown = shown_;
  clear_locked();
  print();
  if (was_shown) draw_locked(true);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  clear_locked();
  finished_ = true;
}

}  // namespace eca

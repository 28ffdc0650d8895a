// Progress: one live status line on a terminal for commands that work through several
// rotations ("rotating 7/20 (2 failed) - current: billing-api, crm-sync"). It is redrawn in
// place (carriage return + clear to end of line), at most every `min_interval` except when
// an item completes, and is cleared before anything else is printed: the Logger routes
// its lines through interject() while a Progress is attached. When the output is not a
// terminal it writes nothing at all. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"

namespace eca {

struct ProgressOptions {
  // Whether to draw at all (see progress_wanted()); false makes every call a no-op.
  bool terminal = false;
  // Where the line goes; the default writes to standard error.
  std::function<void(std::string_view)> write;
  // Monotonic time, for throttling; the default is std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
  std::chrono::milliseconds min_interval{100};
  // Terminal width; the line is cut to fit (a wrapped line cannot be redrawn in place).
  // 0 asks the terminal on standard error, falling back to 80 columns.
  int columns = 0;
};

// A progress line is wanted when stderr (`fd`) is a terminal that is not TERM=dumb, the log
// format is text, and --no-progress was not given.
bool progress_wanted(int fd, LogFormat format, bool no_progress);

class Progress {
 public:
  // `verb` leads the line ("rotating", "checking"); `total` items are expected.
  Progress(std::string verb, std::size_t total, ProgressOptions options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // An item starts (shown as current) / ends (counted as done, and as failed if it failed).
  void begin(std::string_view item);
  void end(std::string_view item, bool failed);
  // Work is held back for `wait` (why: "Infisical's rate limits"): the line says so and for
  // how long ("waiting 42 s for Infisical's rate limits") until that time has passed. Each
  // call replaces the previous notice.
  void waiting(std::chrono::milliseconds wait, std::string_view why);
  // Prints something else on the same terminal: the line is cleared, `print` runs (it must
  // leave the cursor at the start of a line), and the line is drawn again.
  void interject(const std::function<void()>& print);
  // Clears the line for good; later calls draw nothing. Idempotent.
  void finish();

  bool enabled() const { return opts_.terminal; }
  std::size_t done() const;
  std::size_t failed() const;
  // The text of the line as it would be drawn now (without the control sequences).
  std::string text() const;

 private:
  std::string text_locked() const;
  void draw_locked(bool force);
  void clear_locked();

  ProgressOptions opts_;
  std::string verb_;
  std::size_t total_;
  mutable std::mutex mu_;
  std::size_t done_ = 0;
  std::size_t failed_ = 0;
  std::vector<std::string> current_;  // in the order they started
  bool shown_ = false;                // a line is on the terminal now
  bool finished_ = false;
  bool drawn_once_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
  std::string waiting_for_;  // empty: nothing is held back
  std::chrono::steady_clock::time_point waiting_until_{};
};

}  // namespace eca

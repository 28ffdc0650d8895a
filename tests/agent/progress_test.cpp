// The progress line: silent off a terminal, counts under concurrency, throttled redraws,
// and log lines that never share a line with it.
#include "agent/progress.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "agent/logger.h"

namespace eca {
namespace {

constexpr std::string_view kClear = "\r\033[K";

// A terminal double: what was written, and a clock the test moves by hand.
struct FakeTerminal {
  std::mutex mu;
  std::string out;
  std::chrono::steady_clock::time_point t{};

  ProgressOptions options(bool terminal = true) {
    ProgressOptions o;
    o.terminal = terminal;
    o.write = [this](std::string_view s) {
      std::lock_guard<std::mutex> lock(mu);
      out.append(s);
    };
    o.now = [this] { return t; };
    o.min_interval = std::chrono::milliseconds(100);
    o.columns = 200;
    return o;
  }
  int draws() {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (std::size_t p = out.find(kClear); p != std::string::npos; p = out.find(kClear, p + 1)) {
      if (p + kClear.size() < out.size() && out[p + kClear.size()] != '\r') ++n;
    }
    return n;
  }
};

std::size_t count(const std::string& s, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(ProgressTest, WritesNothingWhenNotATerminal) {
  FakeTerminal term;
  {
    Progress p("rotating", 3, term.options(/*terminal=*/false));
    p.begin("a");
    p.end("a", true);
    p.interject([] {});
    p.finish();
    EXPECT_EQ(p.done(), 1u) << "still counts";
  }
  EXPECT_EQ(term.out, "");
}

TEST(ProgressTest, NotWantedOffATerminalForJsonOrWhenAskedNot) {
  // The test's stdin is not a terminal under ctest; /dev/null never is.
  int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(progress_wanted(fd, LogFormat::Text, false));
  ::close(fd);
  EXPECT_FALSE(progress_wanted(STDERR_FILENO, LogFormat::Json, false));
  EXPECT_FALSE(progress_wanted(STDERR_FILENO, LogFormat::Text, true));
  const char* old = std::getenv("TERM");
  std::string saved = old != nullptr ? old : "";
  ::setenv("TERM", "dumb", 1);
  EXPECT_FALSE(progress_wanted(STDERR_FILENO, LogFormat::Text, false));
  if (old != nullptr) {
    ::setenv("TERM", saved.c_str(), 1);
  } else {
    ::unsetenv("TERM");
  }
}

TEST(ProgressTest, LineNamesCountsFailuresAndCurrentItems) {
  FakeTerminal term;
  Progress p("rotating", 20, term.options());
  p.begin("billing-api");
  p.begin("crm-sync");
  p.begin("old-app");
  p.end("old-app", true);
  EXPECT_EQ(p.text(), "rotating 1/20 (1 failed) - current: billing-api, crm-sync");
  EXPECT_NE(term.out.rfind(std::string(kClear) + p.text()), std::string::npos) << term.out;
}

TEST(ProgressTest, AWaitShowsHowLongUntilItIsOver) {
  FakeTerminal term;
  Progress p("rotating", 20, term.options());
  p.begin("billing-api");
  p.waiting(std::chrono::milliseconds(41500), "Infisical's rate limits");
  EXPECT_EQ(p.text(),
            "rotating 0/20 - waiting 42 s for Infisical's rate limits - current: billing-api");
  EXPECT_NE(term.out.rfind(std::string(kClear) + p.text()), std::string::npos)
      << "a new wait is drawn at once: " << term.out;
  term.t += std::chrono::seconds(30);
  EXPECT_EQ(p.text(),
            "rotating 0/20 - waiting 12 s for Infisical's rate limits - current: billing-api");
  term.t += std::chrono::seconds(12);
  p.end("billing-api", false);
  EXPECT_EQ(p.text(), "rotating 1/20") << "the notice is gone once the wait is over";
}

TEST(ProgressTest, CountsAreExactWithConcurrentUpdates) {
  FakeTerminal term;
  constexpr int kThreads = 8, kEach = 250;
  Progress p("rotating", kThreads * kEach, term.options());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&p, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string name = "r" + std::to_string(t) + "-" + std::to_string(i);
        p.begin(name);
        p.end(name, i % 5 == 0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.done(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(p.failed(), static_cast<std::size_t>(kThreads * kEach / 5));
  EXPECT_EQ(p.text(), "rotating 2000/2000 (400 failed)");
  // Every draw is whole: a clear followed by a line, never two lines run together.
  p.finish();
  EXPECT_EQ(count(term.out, "rotating "), count(term.out, std::string(kClear) + "rotating "));
}

TEST(ProgressTest, StartsAreThrottledCompletionsAlwaysDraw) {
  FakeTerminal term;
  Progress p("rotating", 10, term.options());
  p.begin("a");  // the first draw is immediate
  EXPECT_EQ(term.draws(), 1);
  p.begin("b");
  p.begin("c");
  EXPECT_EQ(term.draws(), 1) << "within 100 ms of the last draw";
  term.t += std::chrono::milliseconds(99);
  p.begin("d");
  EXPECT_EQ(term.draws(), 1);
  term.t += std::chrono::milliseconds(1);
  p.begin("e");
  EXPECT_EQ(term.draws(), 2) << "100 ms later";
  p.end("a", false);
  p.end("b", false);
  EXPECT_EQ(term.draws(), 4) << "a completion always draws";
  for (int i = 0; i < 50; ++i) p.begin("x" + std::to_string(i));
  EXPECT_EQ(term.draws(), 4) << "at most 10 redraws a second for starts";
}

TEST(ProgressTest, LongLinesAreCutToTheTerminalWidth) {
  FakeTerminal term;
  auto o = term.options();
  o.columns = 40;
  Progress p("rotating", 3, o);
  p.begin("a-rather-long-rotation-name");
  p.begin("another-rather-long-rotation-name");
  EXPECT_EQ(p.text().size(), 39u);
  EXPECT_EQ(p.text().substr(36), "...");
}

TEST(ProgressTest, LogLinesClearTheLineAndRedrawItAfter) {
  FakeTerminal term;
  // The logger writes to a FILE* whose bytes land in the same terminal transcript.
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  Logger log(LogFormat::Text, f);
  auto o = term.options();
  o.write = [&](std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), f);
    std::fflush(f);
  };
  Progress p("rotating", 2, o);
  log.set_progress(&p);
  p.begin("app-1");
  log.error("app-1", "publish", "HTTP 503");
  p.end("app-1", true);
  p.finish();
  log.set_progress(nullptr);
  log.info("", "summary", "done");
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  const std::string line = "rotating 0/2 - current: app-1";
  EXPECT_EQ(out, std::string(kClear) + line +  // drawn
                     std::string(kClear) +     // cleared before the log line
                     "error: [app-1] publish: HTTP 503\n" + std::string(kClear) +
                     line +  // drawn again after it
                     std::string(kClear) + "rotating 1/2 (1 failed)" +
                     std::string(kClear) +  // finished: cleared, no newline
                     "info: summary: done\n");
}

TEST(ProgressTest, FinishLeavesACleanLineAndDrawsNothingAfter) {
  FakeTerminal term;
  Progress p("checking", 2, term.options());
  p.begin("a");
  p.end("a", false);
  p.finish();
  EXPECT_EQ(term.out.substr(term.out.size() - kClear.size()), kClear);
  EXPECT_EQ(term.out.find('\n'), std::string::npos);
  const std::string before = term.out;
  p.begin("b");
  p.end("b", false);
  p.interject([] {});
  p.finish();
  EXPECT_EQ(term.out, before);
}

}  // namespace
}  // namespace eca

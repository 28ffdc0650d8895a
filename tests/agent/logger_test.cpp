// Log lines as operators and log pipelines read them.
#include "agent/logger.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

namespace eca {
namespace {

TEST(LoggerTest, FailureLinesCarryImpactAndNextInTextAndJson) {
  for (LogFormat fmt : {LogFormat::Text, LogFormat::Json}) {
    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* f = open_memstream(&buf, &len);
    ASSERT_NE(f, nullptr);
    Logger log(fmt, f);
    LogEvent e;
    e.level = LogLevel::Error;
    e.rotation = "app-1";
    e.step = "verify";
    e.message = "HTTP 503.";
    e.impact = "the current credential stays valid";
    e.next = "retrying in 2 min (attempt 2 of 5)";
    log.log(e);
    std::fclose(f);
    std::string out(buf, len);
    std::free(buf);
    if (fmt == LogFormat::Text) {
      EXPECT_EQ(out,
                "error: [app-1] verify: HTTP 503. Credential: the current credential stays "
                "valid. Next: retrying in 2 min (attempt 2 of 5).\n");
    } else {
      EXPECT_NE(out.find(R"x("message":"HTTP 503.","impact":"the current credential stays )x"
                         R"x(valid","next":"retrying in 2 min (attempt 2 of 5)"})x"),
                std::string::npos)
          << out;
    }
  }
}

}  // namespace
}  // namespace eca

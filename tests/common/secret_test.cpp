#include "common/secret.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace eca {
namespace {

TEST(Secret, HoldsValueAndIsNulTerminated) {
  Secret s("consumer-secret");
  EXPECT_EQ(s.view(), "consumer-secret");
  EXPECT_EQ(s.size(), 15u);
  EXPECT_EQ(std::strlen(s.c_str()), 15u);
}

TEST(Secret, MoveLeavesSourceEmpty) {
  Secret a("abc");
  Secret b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(b.view(), "abc");
}

TEST(Secret, CompareIsByValue) {
  EXPECT_TRUE(Secret("x1").equals("x1"));
  EXPECT_FALSE(Secret("x1").equals("x2"));
  EXPECT_FALSE(Secret("x1").equals("x12"));
  EXPECT_TRUE(Secret("") == Secret(""));
}

TEST(Secret, AppendGrowsAcrossReallocation) {
  Secret s;
  std::string expect;
  for (int i = 0; i < 200; ++i) {
    s.append("0123456789");
    expect += "0123456789";
  }
  EXPECT_EQ(s.view(), expect);
  EXPECT_EQ(s.c_str()[s.size()], '\0');
}

TEST(Secret, TruncateZeroesTheTail) {
  Secret s("abcdef");
  s.truncate(2);
  EXPECT_EQ(s.view(), "ab");
  EXPECT_EQ(s.data()[2], '\0');
  EXPECT_EQ(s.data()[5], '\0');
}

TEST(Secret, WipeReleasesAndEmpties) {
  Secret s("to be forgotten");
  s.wipe();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.view(), "");
}

TEST(Secret, ReleasedBufferIsZeroed) {
  const char* p = nullptr;
  std::size_t n = 0;
  {
    Secret s("a consumer secret that must not linger in memory");
    p = s.c_str();
    n = s.size() + 1;
  }
  EXPECT_TRUE(Secret::released_bytes_are_zero(p, n));
}

TEST(Secret, GrownBufferLeavesNoCopyBehind) {
  Secret s("first part of a secret;");
  const char* old = s.c_str();
  const std::size_t old_size = s.size();
  std::string expect(s.view());
  for (int i = 0; i < 20; ++i) {  // forces several reallocations into larger blocks
    s.append("more secret bytes, ");
    expect += "more secret bytes, ";
  }
  ASSERT_NE(s.c_str(), old);
  EXPECT_EQ(s.view(), expect);
  EXPECT_TRUE(Secret::released_bytes_are_zero(old, old_size));
}

TEST(Secret, LargeBuffersBeyondThePoolWork) {
  std::string big(200 * 1024, 'x');
  Secret s(big);
  EXPECT_EQ(s.view(), big);
  s.append("tail");
  EXPECT_EQ(s.size(), big.size() + 4);
  EXPECT_EQ(s.c_str()[s.size()], '\0');
}

// A large body grows where it is (no copy held beside it while an answer streams in).
TEST(Secret, ALargeBufferGrowsInPlace) {
  std::string big(200 * 1024, 'x');
  Secret s(big);
  const char* at = s.c_str();
  std::string expect = big;
  const std::string chunk(16 * 1024, 'y');
  while (expect.size() < 3u * 1024 * 1024) {
    s.append(chunk);
    expect += chunk;
  }
  EXPECT_EQ(s.c_str(), at);
  EXPECT_EQ(s.view(), expect);
  EXPECT_EQ(s.c_str()[s.size()], '\0');
  s.truncate(10);
  EXPECT_EQ(s.view(), std::string(10, 'x'));
  Secret moved = std::move(s);
  EXPECT_EQ(moved.view(), std::string(10, 'x'));
  moved.append(chunk);  // still the same block
  EXPECT_EQ(moved.c_str(), at);
  moved.wipe();  // and a wiped large buffer is an empty one, ready for anything
  EXPECT_TRUE(moved.empty());
  moved.append(chunk);
  EXPECT_EQ(moved.view(), chunk);
}

TEST(Secret, ConcurrentUseKeepsValuesApart) {
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &mismatches] {
      for (int i = 0; i < 2000; ++i) {
        std::string v = "thread-" + std::to_string(t) + "-value-" + std::to_string(i);
        Secret s(v);
        s.append(v);
        if (s.view() != v + v) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Secret, WipeStringZeroesInPlace) {
  std::string s = "plain copy of a secret";
  const char* p = s.data();
  std::size_t n = s.size();
  wipe_string(s);
  EXPECT_TRUE(s.empty());
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(p[i], '\0') << "byte " << i;
}

TEST(Secret, TruncatedBytesAreZeroedBeforeTheBufferIsReused) {
  Secret s("0123456789");
  char* p = s.data();
  s.truncate(0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p[i], '\0') << "byte " << i;
}

}  // namespace
}  // namespace eca

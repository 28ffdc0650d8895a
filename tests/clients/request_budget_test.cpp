// RequestBudget on a fake clock: pacing per category, reservations, the longest wait, and
// the 429 pause; BudgetedTransport against the fake Infisical enforcing limits.
#include "clients/request_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "clients/budgeted_transport.h"
#include "clients/curl_transport.h"
#include "clients/infisical_client.h"
#include "tests/sandbox/fake_infisical.h"

namespace eca {
namespace {

using namespace std::chrono_literals;
using TimePoint = RequestBudget::TimePoint;

// A budget whose waits move a fake clock instead of sleeping.
class RequestBudgetTest : public ::testing::Test {
 protected:
  std::unique_ptr<RequestBudget> make(RateLimits limits) {
    auto b = std::make_unique<RequestBudget>(
        limits, [this] { return now_; },
        [this](std::unique_lock<std::mutex>&, TimePoint until) { now_ = std::max(now_, until); });
    b->on_wait(
        [this](std::chrono::milliseconds wait, const std::string&) { waits_.push_back(wait); });
    return b;
  }
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - start_);
  }

  TimePoint start_ = TimePoint(std::chrono::hours(1000));
  TimePoint now_ = start_;
  std::vector<std::chrono::milliseconds> waits_;
};

RateLimits limits(int global, int read, int write, int secret) {
  RateLimits l;
  l.global = global;
  l.read = read;
  l.write = write;
  l.secret = secret;
  return l;
}

TEST_F(RequestBudgetTest, TheRequestOverALimitWaitsUntilTheOldestLeavesTheWindow) {
  auto b = make(limits(0, 0, 2, 0));
  ASSERT_TRUE(b->acquire(RequestCategory::Write).ok());
  now_ += 10s;
  ASSERT_TRUE(b->acquire(RequestCategory::Write).ok());
  EXPECT_TRUE(waits_.empty());
  ASSERT_TRUE(b->acquire(RequestCategory::Write).ok());
  // The first write leaves the window (60 s plus a two-hundredth for rounding) at 60.3 s.
  EXPECT_EQ(elapsed(), 60300ms);
  ASSERT_EQ(waits_.size(), 1u);
  EXPECT_EQ(waits_[0], 50300ms);
  // Other categories were never limited.
  ASSERT_TRUE(b->acquire(RequestCategory::Read).ok());
  EXPECT_EQ(elapsed(), 60300ms);
}

// The server counts a request when it reaches its limiter, which may be long after the
// agent sent it (a loaded server, a slow proxy): the window counts from the answer.
TEST_F(RequestBudgetTest, ASlowRequestCountsFromItsAnswerNotItsSend) {
  auto b = make(limits(0, 0, 2, 0));
  {
    auto slow = b->acquire(RequestCategory::Write);
    ASSERT_TRUE(slow.ok());
    now_ += 40s;  // answered 40 s after it was sent
  }
  ASSERT_TRUE(b->acquire(RequestCategory::Write).ok());
  ASSERT_TRUE(b->acquire(RequestCategory::Write).ok());
  EXPECT_EQ(elapsed(), 40s + 60300ms) << "counted from the send, it would have left at 60.3 s";
}

TEST_F(RequestBudgetTest, RequestsInFlightCountAgainstTheLimit) {
  auto b = make(limits(0, 2, 0, 0));
  b->set_max_wait(5min);
  auto first = b->acquire(RequestCategory::Read);
  auto second = b->acquire(RequestCategory::Read);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(b->recent(RequestCategory::Read), 2);
  // Neither has been answered: no time passing on its own frees room.
  auto third = b->acquire(RequestCategory::Read);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().kind, ErrorKind::Transient);
  first->done();
  const auto answered = elapsed();
  ASSERT_TRUE(b->acquire(RequestCategory::Read).ok());
  EXPECT_EQ(elapsed(), answered + 60300ms);
}

TEST_F(RequestBudgetTest, TheGlobalCapCountsEveryCategory) {
  auto b = make(limits(2, 0, 0, 0));
  ASSERT_TRUE(b->acquire(RequestCategory::Read).ok());
  ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());
  ASSERT_TRUE(b->acquire(RequestCategory::Write).ok());
  EXPECT_EQ(elapsed(), 60300ms);
}

TEST_F(RequestBudgetTest, ReservedRequestsGoAtOnceAndOthersWaitForThem) {
  auto b = make(limits(0, 0, 0, 3));
  RequestCost publish;
  publish.add(RequestCategory::Global, 2).add(RequestCategory::Secret, 2);
  auto reservation = b->reserve(publish);
  ASSERT_TRUE(reservation.ok());
  ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());  // the one unreserved unit
  {
    RequestBudget::Reservation::Use use(*reservation);
    ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());
    ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());
  }
  EXPECT_EQ(elapsed(), 0ms);  // the reserved two did not wait although the window is full
  EXPECT_TRUE(reservation->empty());
  ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());
  EXPECT_EQ(elapsed(), 60300ms);
}

TEST_F(RequestBudgetTest, AReleasedReservationGivesItsRoomBack) {
  auto b = make(limits(0, 0, 0, 2));
  RequestCost two;
  two.add(RequestCategory::Secret, 2);
  {
    auto reservation = b->reserve(two);
    ASSERT_TRUE(reservation.ok());
    b->set_max_wait(0ms);
    EXPECT_FALSE(b->acquire(RequestCategory::Secret).ok());  // all reserved
  }
  ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());
  EXPECT_EQ(elapsed(), 0ms);
}

TEST_F(RequestBudgetTest, AWaitLongerThanTheMaximumFailsAndSaysHowLong) {
  auto b = make(limits(0, 1, 0, 0));
  b->set_max_wait(30s);
  ASSERT_TRUE(b->acquire(RequestCategory::Read).ok());
  auto st = b->acquire(RequestCategory::Read);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::Transient);
  EXPECT_EQ(st.error().retry_after, 61s);
  EXPECT_NE(st.error().message.find("1 read per 60 s"), std::string::npos) << st.error().message;
  EXPECT_EQ(elapsed(), 0ms);  // it failed at once rather than after the 30 s
  RequestCost too_much;
  too_much.add(RequestCategory::Read, 2);
  auto never = b->reserve(too_much);
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.error().kind, ErrorKind::Permanent);
}

TEST_F(RequestBudgetTest, APauseStopsEveryRequestReservedOrNot) {
  auto b = make(limits(0, 0, 0, 5));
  RequestCost one;
  one.add(RequestCategory::Global).add(RequestCategory::Secret);
  auto reservation = b->reserve(one);
  ASSERT_TRUE(reservation.ok());
  b->pause_for(7s);
  ASSERT_TRUE(b->acquire(RequestCategory::Read).ok());
  EXPECT_EQ(elapsed(), 7000ms);
  b->pause_for(3s);
  RequestBudget::Reservation::Use use(*reservation);
  ASSERT_TRUE(b->acquire(RequestCategory::Secret).ok());
  EXPECT_EQ(elapsed(), 10000ms);
}

// The server's window does not restart with the agent: what one process sent (and a pause
// the server asked for) is carried to the next one, which waits as the first would have.
TEST_F(RequestBudgetTest, TheNextProcessCountsTheLastWindowsRequestsAndPause) {
  auto first = make(limits(0, 0, 2, 0));
  ASSERT_TRUE(first->acquire(RequestCategory::Write).ok());
  now_ += 10s;
  ASSERT_TRUE(first->acquire(RequestCategory::Write).ok());
  first->pause_for(20s);  // until 30 s
  const RequestBudget::Carry carried = first->carry();
  const auto write = static_cast<std::size_t>(RequestCategory::Write);
  EXPECT_EQ(carried.answered_ms[write].size(), 2u);
  EXPECT_TRUE(carried.answered_ms[static_cast<std::size_t>(RequestCategory::Read)].empty());
  EXPECT_GT(carried.paused_until_ms, carried.answered_ms[write].back());

  auto next = make(limits(0, 0, 2, 0));
  next->take_over(carried);
  EXPECT_EQ(next->recent(RequestCategory::Write), 2);
  ASSERT_TRUE(next->acquire(RequestCategory::Read).ok());
  EXPECT_NEAR(static_cast<double>(elapsed().count()), 30000, 5) << "the pause was carried";
  ASSERT_TRUE(next->acquire(RequestCategory::Write).ok());
  EXPECT_NEAR(static_cast<double>(elapsed().count()), 60300, 5)
      << "the first process's first write had to leave the window";
  now_ += 62s;
  EXPECT_TRUE(next->carry().answered_ms[write].empty()) << "nothing older than a window is kept";
}

TEST(InfisicalCategoryTest, SecretRoutesAreSecretOtherReadsReadTheRestWrite) {
  HttpRequest r;
  r.endpoint = "inf.upsert";
  r.method = "PATCH";
  EXPECT_EQ(infisical_category(r), RequestCategory::Secret);
  r.endpoint = "inf.list";
  r.method = "GET";
  EXPECT_EQ(infisical_category(r), RequestCategory::Secret);
  r.endpoint = "inf.folder_list";
  EXPECT_EQ(infisical_category(r), RequestCategory::Read);
  r.endpoint = "inf.folder_create";
  r.method = "POST";
  EXPECT_EQ(infisical_category(r), RequestCategory::Write);
  r.endpoint = "inf.login";
  EXPECT_EQ(infisical_category(r), RequestCategory::Write);
}

// The real client over the budgeted transport against the fake with limits on a short
// window (real time): several threads listing at once.
class BudgetedTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inf_.add_identity("identity-1", "identity-secret");
    inf_.add_project("proj-1", "demo", {"prod"});
    inf_.add_member("proj-1", "identity-1");
    inf_.start();
  }
  void TearDown() override { inf_.stop(); }

  // Twelve lists from four threads; how many failed.
  int list_from_threads(InfisicalClient& client) {
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 3; ++i) {
          if (!client.list("/").ok()) ++failed;
        }
      });
    }
    for (auto& t : threads) t.join();
    return failed.load();
  }
  std::unique_ptr<InfisicalClient> client(HttpTransport& transport) {
    InfisicalEndpoint ep;
    ep.url = inf_.base_url();
    ep.project_id = "proj-1";
    ep.environment = "prod";
    ep.client_id = "identity-1";
    ep.client_secret = Secret(std::string_view("identity-secret"));
    return std::make_unique<InfisicalClient>(transport, std::move(ep));
  }

  // The server limits secret operations to `secret` per second; the agent's limits, which
  // are returned, match it.
  RateLimits secret_limit_on_both_sides(int secret) {
    sandbox::InfisicalRateLimits server;
    server.secret = secret;
    server.window = 1000ms;
    inf_.set_rate_limits(server);
    RateLimits mine;
    mine.secret = secret;
    mine.window = 1000ms;
    return mine;
  }

  sandbox::FakeInfisical inf_;
  CurlTransport curl_;
};

TEST_F(BudgetedTransportTest, ABudgetMatchingTheServerNeverSeesA429) {
  RequestBudget budget(secret_limit_on_both_sides(4));
  BudgetedTransport transport(curl_, budget);
  auto c = client(transport);
  EXPECT_EQ(list_from_threads(*c), 0);
  EXPECT_EQ(inf_.rate_limited_count(), 0);
  EXPECT_EQ(transport.rate_limited(), 0);
}

// One request reaches the server's limiter 600 ms after it was sent (a fault's latency),
// in the next fixed window. The test starts 200 ms before a server window ends: the slow
// list lands at +1.4 s, the second list right after it, and a budget counting from the
// sends let the third go at +1.82 s, the third request of the window [1 s, 2 s): a 429.
// Counted from the answers, the third waits until +2.4 s.
TEST_F(BudgetedTransportTest, ARequestThatReachesTheServerLateStillCountsInTheWindowItLandsIn) {
  RequestBudget budget(secret_limit_on_both_sides(2));
  BudgetedTransport transport(curl_, budget);
  auto c = client(transport);
  ASSERT_TRUE(c->login().ok());
  sandbox::Fault slow;
  slow.endpoint = "inf.list";
  slow.latency_ms = 600;
  inf_.inject(slow);
  const auto ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::this_thread::sleep_for(std::chrono::milliseconds((1800 - ms() % 1000) % 1000));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->list("/").ok()) << i;
  EXPECT_EQ(inf_.rate_limited_count(), 0);
  EXPECT_EQ(transport.rate_limited(), 0);
}

TEST_F(BudgetedTransportTest, A429PausesAndTheRequestIsSentAgain) {
  sandbox::InfisicalRateLimits server;
  server.secret = 6;
  server.window = 1000ms;
  inf_.set_rate_limits(server);
  RequestBudget budget(RateLimits{});  // the agent does not know the server's limits
  BudgetedTransport transport(curl_, budget);
  auto c = client(transport);
  EXPECT_EQ(list_from_threads(*c), 0);
  EXPECT_GT(inf_.rate_limited_count(), 0);
  EXPECT_EQ(transport.rate_limited(), inf_.rate_limited_count());
}

}  // namespace
}  // namespace eca

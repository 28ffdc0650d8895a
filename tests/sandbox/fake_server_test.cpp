// Fault injection, latency and the request log, through both fakes.
#include "tests/sandbox/fake_server.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/sandbox/fake_infisical.h"
#include "tests/sandbox/fake_salesforce.h"
#include "tests/sandbox/test_http.h"

namespace eca::sandbox {
namespace {

using testing::Reply;
using testing::TestHttp;
using namespace std::chrono_literals;

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = sf_.add_app("Target");
    sf_.start();
    http_ = std::make_unique<TestHttp>(sf_.base_url());
  }

  Reply token() {
    return http_->post_form("/services/oauth2/token", {{"grant_type", "client_credentials"},
                                                       {"client_id", app_.primary().key},
                                                       {"client_secret", app_.primary().secret}});
  }

  void login() {
    const Reply reply = token();
    ASSERT_EQ(reply.status, 200) << reply.body;
    http_->set_bearer(reply.json()["access_token"].GetString());
  }

  std::string staged_url() const {
    return "/services/data/v65.0/apps/oauth/credentials/" + app_.id + "/" + app_.consumer_id() +
           "/staged";
  }

  FakeSalesforce sf_;
  AppInfo app_;
  std::unique_ptr<TestHttp> http_;
};

TEST_F(FaultTest, StatusFaultAnswersInsteadForItsNumberOfTimes) {
  Fault fault;
  fault.endpoint = "sf.token";
  fault.status = 503;
  fault.body = R"([{"errorCode":"SERVER_UNAVAILABLE","message":"try later"}])";
  fault.headers = {{"Retry-After", "7"}};
  fault.times = 2;
  sf_.inject(fault);
  Reply reply = token();
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, fault.body);
  EXPECT_EQ(reply.header("Retry-After"), "7");
  EXPECT_EQ(token().status, 503);
  EXPECT_EQ(token().status, 200);
  EXPECT_EQ(sf_.log().count("sf.token", 503), 2);
  EXPECT_EQ(sf_.live_token_count(), 1);  // the faulted requests did nothing
}

TEST_F(FaultTest, ForeverFaultOnEveryEndpointSparesAdminRoutes) {
  Fault fault;
  fault.status = 500;
  fault.body = "{}";
  fault.times = -1;
  sf_.inject(fault);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(token().status, 500);
  EXPECT_EQ(http_->get("/__sandbox/credentials").status, 200);
  sf_.clear_faults();
  EXPECT_EQ(token().status, 200);
}

TEST_F(FaultTest, ResetClosesTheConnectionWithoutAnswer) {
  Fault fault;
  fault.endpoint = "sf.token";
  fault.reset = true;
  sf_.inject(fault);
  Reply reply = token();
  EXPECT_EQ(reply.status, 0);
  EXPECT_NE(reply.error, httplib::Error::Success);
  EXPECT_EQ(sf_.log().count("sf.token", 0), 1);
  EXPECT_EQ(sf_.live_token_count(), 0);

  sf_.inject(fault);
  const auto raw = testing::raw_exchange(
      sf_.port(), "POST /services/oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=b",
      3s);
  EXPECT_TRUE(raw.received.empty());
  EXPECT_TRUE(raw.reset);
  EXPECT_EQ(token().status, 200);  // the server itself is fine
}

TEST_F(FaultTest, ApplyThenFailPerformsTheWriteButHidesTheOutcome) {
  login();
  Fault fault;
  fault.endpoint = "sf.stage";
  fault.status = 500;
  fault.body = R"([{"errorCode":"UNKNOWN_EXCEPTION","message":"boom"}])";
  sf_.inject(fault);
  EXPECT_EQ(http_->post(staged_url(), "{}").status, 500);
  EXPECT_FALSE(sf_.staged(app_.id));  // a plain fault does nothing

  fault.apply_then_fail = true;
  sf_.inject(fault);
  EXPECT_EQ(http_->post(staged_url(), "{}").status, 500);
  const auto staged = sf_.staged(app_.id);
  ASSERT_TRUE(staged);  // ...but this one happened

  sf_.inject(Fault::lose_answer("sf.promote"));
  const Reply reply = http_->patch(staged_url() + "/" + staged->id, R"({"command":"rotate"})");
  EXPECT_EQ(reply.status, 0);
  EXPECT_EQ(sf_.primary(app_.id)->key, staged->credential.key);
  EXPECT_EQ(sf_.staged(app_.id)->state, StagedState::Rotated);
}

TEST_F(FaultTest, KillPidKillsAfterApplying) {
  login();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) pause();
  }
  Fault fault;
  fault.endpoint = "sf.stage";
  fault.kill_pid = child;
  sf_.inject(fault);
  const Reply reply = http_->post(staged_url(), "{}");
  EXPECT_EQ(reply.status, 201);  // the real answer, which the dead agent never reads
  sf_.revoke_staged_by_hand(app_.id);
  sf_.inject(Fault::crash_after("sf.stage", child));  // the child is a zombie: harmless
  EXPECT_EQ(http_->post(staged_url(), "{}").status, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_TRUE(sf_.staged(app_.id));
}

TEST_F(FaultTest, LatencyGlobalAndPerFault) {
  sf_.set_latency(100ms);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(token().status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  sf_.set_latency(0ms);
  Fault slow;
  slow.endpoint = "sf.token";
  slow.latency_ms = 150;
  sf_.inject(slow);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(token().status, 200);  // a latency-only fault still answers for real
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(token().status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST_F(FaultTest, StopAndStartIsAnOutageOnTheSamePort) {
  const int port = sf_.port();
  sf_.stop();
  EXPECT_EQ(token().status, 0);
  sf_.start();
  EXPECT_EQ(sf_.port(), port);
  EXPECT_EQ(token().status, 200);
}

TEST(InfisicalFaultTest, FaultsByInfisicalEndpointName) {
  FakeInfisical inf;
  inf.add_identity("id", "secret");
  inf.start();
  TestHttp http(inf.base_url());
  Fault fault;
  fault.endpoint = "inf.login";
  fault.reset = true;
  inf.inject(fault);
  EXPECT_EQ(
      http.post("/api/v1/auth/universal-auth/login", R"({"clientId":"id","clientSecret":"secret"})")
          .status,
      0);
  EXPECT_EQ(
      http.post("/api/v1/auth/universal-auth/login", R"({"clientId":"id","clientSecret":"secret"})")
          .status,
      200);
  EXPECT_EQ(inf.request_count("inf.login"), 2);
  EXPECT_EQ(inf.log().count("inf.login", 0), 1);
}

TEST(HttpsFaultTest, ResetWorksOverTls) {
  const std::string tls = ECA_SOURCE_DIR "/tests/data/tls";
  FakeInfisicalOptions options;
  options.server.cert_file = tls + "/server.pem";
  options.server.key_file = tls + "/server.key";
  FakeInfisical inf(options);
  inf.add_identity("id", "secret");
  inf.start();
  TestHttp http(inf.base_url(), tls + "/ca.pem");
  Fault fault;
  fault.endpoint = "inf.login";
  fault.reset = true;
  inf.inject(fault);
  const std::string body = R"({"clientId":"id","clientSecret":"secret"})";
  EXPECT_EQ(http.post("/api/v1/auth/universal-auth/login", body).status, 0);
  EXPECT_EQ(http.post("/api/v1/auth/universal-auth/login", body).status, 200);
}

}  // namespace
}  // namespace eca::sandbox

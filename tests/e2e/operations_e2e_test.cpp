// What operators watch: the metrics file and endpoint, /healthz, and the hooks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// GET over a raw socket: returns the status line and body, or "" when nobody answers.
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

class OperationsE2e : public E2eFixture {
 protected:
  static bool eventually(const std::function<bool()>& pred, int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
  }
};

TEST_F(OperationsE2e, MetricsFileAndHooksReflectSuccessAndFailure) {
  const auto metrics = dir_ / "eca.prom";
  const auto hook_log = dir_ / "hooks.log";
  // agent settings are appended as a drop-in so the main file stays as written.
  std::filesystem::create_directories(dir_ / "conf.d");
  std::ofstream(dir_ / "conf.d" / "10-ops.toml")
      << "[agent]\nmetrics_file = \"" << metrics.string()
      << "\"\non_success = \"env | grep ^ECA_ >> " << hook_log.string() << "; echo --- >> "
      << hook_log.string() << "\"\non_failure = \"env | grep ^ECA_ >> " << hook_log.string()
      << "; echo --- >> " << hook_log.string() << "\"\n";
  sb_->infisical().set_approval_required(sb_->project_id(), "prod", "/salesforce/app-2", true);
  // One upsert meets a folder deleted since it was created: a 4xx, retried after creating it.
  sandbox::Fault gone;
  gone.endpoint = "inf.upsert";
  gone.status = 404;
  gone.body =
      R"({"reqId":"req-1","statusCode":404,"message":"Folder with path '/x' in environment with slug 'prod' not found","error":"NotFound"})";
  sb_->infisical().inject(gone);
  auto r = run({"rotate", "app-1", "app-2"});
  EXPECT_EQ(r.exit_code, 1);
  const std::string m = slurp(metrics);
  const std::string hooks = slurp(hook_log);
  all_output_ += m + hooks;  // the canary covers them too
  EXPECT_THAT(m, HasSubstr("eca_rotator_last_success_timestamp_seconds{rotation=\"app-1\"}"));
  EXPECT_THAT(m, HasSubstr("eca_rotator_consecutive_failures{rotation=\"app-2\"} 1"));
  EXPECT_THAT(m, HasSubstr("eca_rotator_generation{rotation=\"app-1\"} 1"));
  // app-2's approval policy is found before staging: only app-1 is promoted.
  EXPECT_THAT(m, HasSubstr("endpoint=\"sf.promote\",status=\"2xx\"} 1"));
  EXPECT_THAT(m, HasSubstr("endpoint=\"inf.upsert\",status=\"4xx\"} 1"));
  // Two rotations at once over two hosts: a connection or two each, reused by ~20 requests.
  for (const char* service : {"salesforce", "infisical"}) {
    std::smatch opened;
    const std::regex line(std::string("eca_rotator_connections_opened_total\\{service=\"") +
                          service + "\"\\} (\\d+)");
    ASSERT_TRUE(std::regex_search(m, opened, line)) << service;
    EXPECT_GE(std::stoi(opened[1]), 1) << service;
    EXPECT_LE(std::stoi(opened[1]), 3) << service << ": connections are not being reused";
  }
  EXPECT_THAT(m, HasSubstr("eca_rotator_rotations_total{outcome=\"failure\"} 1"));
  EXPECT_THAT(m, HasSubstr("eca_rotator_healthy 0"));
  EXPECT_THAT(hooks, HasSubstr("ECA_ROTATION=app-1"));
  EXPECT_THAT(hooks, HasSubstr("ECA_OUTCOME=rotated"));
  EXPECT_THAT(hooks, HasSubstr("ECA_ROTATION=app-2"));
  EXPECT_THAT(hooks, HasSubstr("ECA_OUTCOME=failed"));
  EXPECT_THAT(hooks, HasSubstr("ECA_ERROR=Infisical answered with an approval request"));
  EXPECT_THAT(hooks, HasSubstr("ECA_ERROR_KIND=permanent"));
  // Refused before staging: nothing to recover, the failure shows in `status`.
  auto st = run({"status"});
  EXPECT_THAT(st.out, ::testing::Not(HasSubstr("pending recovery")));
  EXPECT_THAT(st.out, HasSubstr("approval"));
}

TEST_F(OperationsE2e, HealthzFlipsWhenARotationStartsFailing) {
  const int port = free_port();
  std::filesystem::create_directories(dir_ / "conf.d");
  std::ofstream(dir_ / "conf.d" / "10-ops.toml")
      << "[agent]\nmetrics_listen = \"127.0.0.1:" << port << "\"\n";
  const auto clock_file = dir_ / "clock";
  std::ofstream(clock_file) << 0;
  AgentProcess d(
      ECA_ROTATOR_BIN, with_config({"run"}),
      {{"!CREDENTIALS_DIRECTORY", ""}, {"ECA_ROTATOR_TEST_CLOCK_FILE", clock_file.string()}});
  ASSERT_TRUE(eventually([&] {
    return sb_->salesforce().request_count("sf.promote") == 3 &&
           http_get(port, "/metrics").find("eca_rotator_generation{rotation=\"app-3\"} 1") !=
               std::string::npos;
  }));
  EXPECT_THAT(http_get(port, "/healthz"), HasSubstr("200 OK"));
  // Every publish fails from now on; move both clocks past the interval.
  sb_->infisical().inject(sandbox::Fault::answer(
      "inf.upsert", 403,
      R"({"reqId":"req-1","statusCode":403,"error":"PermissionDenied","message":"You are not allowed to access this resource"})",
      -1));
  sb_->clock().advance(std::chrono::hours(24 * 15));
  std::ofstream(clock_file) << sb_->clock().offset().count();
  // First overdue (due a day ago, attempts not yet recorded), then failing.
  ASSERT_TRUE(
      eventually([&] { return http_get(port, "/healthz").find("503") != std::string::npos; }));
  ASSERT_TRUE(eventually(
      [&] { return http_get(port, "/healthz").find("is failing") != std::string::npos; }));
  EXPECT_THAT(http_get(port, "/metrics"), HasSubstr("eca_rotator_healthy 0"));
  ::kill(d.pid(), SIGTERM);
  auto r = d.wait(30);
  remember(r);
  EXPECT_EQ(r.exit_code, 0);
  // Each pair consumers hold still works: a failing publish never revokes anything.
  expect_every_published_pair_authenticates();
}

}  // namespace
}  // namespace eca::e2e

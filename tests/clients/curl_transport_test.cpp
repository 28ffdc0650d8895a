// The transport against servers gone rogue: every hostile answer becomes a clear error,
// nothing is followed or trusted that should not be, and nothing hangs.
#include "clients/curl_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/json.h"

namespace eca {
namespace {

const std::string kTls = ECA_TEST_DATA_DIR "/tls";

// A loopback server with handlers set by each test.
class RogueServer {
 public:
  explicit RogueServer(const std::string& cert = "", const std::string& key = "") {
    if (cert.empty()) {
      server_ = std::make_unique<httplib::Server>();
    } else {
      server_ = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
    }
    server_->set_tcp_nodelay(true);
  }
  ~RogueServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Server& operator*() { return *server_; }
  httplib::Server* operator->() { return server_.get(); }
  void start() {
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::string url(const std::string& scheme, const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(port_);
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

HttpRequest get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  r.endpoint = "test.get";
  r.bearer = Secret("bearer-token-canary");
  return r;
}

TEST(CurlTransport, RefusesAFiftyMebibyteBody) {
  RogueServer s;
  s->Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(50 << 20, 'x'), "application/json");
  });
  s.start();
  CurlTransport t;
  auto req = get(s.url("http") + "/big");
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("larger than 4 MiB"), std::string::npos) << r.error().message;
}

TEST(CurlTransport, StopsReadingABodyThatNeverEnds) {
  RogueServer s;
  s->Get("/endless", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      std::string chunk(64 * 1024, '[');
      return sink.write(chunk.data(), chunk.size());
    });
  });
  s.start();
  CurlTransport t;
  auto req = get(s.url("http") + "/endless");
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("larger than"), std::string::npos) << r.error().message;
}

TEST(CurlTransport, GivesUpOnASlowlorisServer) {
  RogueServer s;
  s->Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      return sink.write("[", 1);
    });
  });
  s.start();
  CurlOptions o;
  o.low_speed_time_s = 1;
  o.total_timeout_s = 10;
  CurlTransport t(o);
  auto req = get(s.url("http") + "/slow");
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Transient);
}

TEST(CurlTransport, DoesNotFollowARedirectCarryingTheBearerToken) {
  RogueServer other;
  std::atomic<int> other_hits{0};
  other->Get("/steal", [&](const httplib::Request&, httplib::Response& res) {
    ++other_hits;
    res.set_content("{}", "application/json");
  });
  other.start();
  RogueServer s;
  const std::string target = other.url("http", "localhost") + "/steal";
  s->Get("/moved",
         [&](const httplib::Request&, httplib::Response& res) { res.set_redirect(target); });
  s.start();
  CurlTransport t;
  auto req = get(s.url("http") + "/moved");
  auto r = t.send(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 302) << "the redirect is handed to the client, which treats it as an error";
  EXPECT_EQ(other_hits.load(), 0);
}

TEST(CurlTransport, RefusesACertificateForAnotherHost) {
  RogueServer s(kTls + "/wrong-host.pem", kTls + "/wrong-host.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  s.start();
  CurlTransport t;
  auto req = get(s.url("https", "localhost") + "/x");
  req.tls.ca_file = kTls + "/ca.pem";
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("TLS verification failed"), std::string::npos)
      << r.error().message;
}

TEST(CurlTransport, RefusesACertificateFromAnUntrustedCa) {
  RogueServer s(kTls + "/untrusted.pem", kTls + "/untrusted.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  s.start();
  CurlTransport t;
  auto req = get(s.url("https", "localhost") + "/x");
  req.tls.ca_file = kTls + "/ca.pem";
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("TLS verification failed"), std::string::npos)
      << r.error().message;
}

TEST(CurlTransport, TrustsTheConfiguredCaAndReusesTheConnection) {
  RogueServer s(kTls + "/server.pem", kTls + "/server.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  s.start();
  CurlTransport t;
  for (int i = 0; i < 5; ++i) {
    auto req = get(s.url("https", "localhost") + "/x");
    req.tls.ca_file = kTls + "/ca.pem";
    auto r = t.send(req);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(t.stats().requests, 5);
  EXPECT_EQ(t.stats().new_connections, 1);
}

TEST(CurlTransport, RefusesPlainHttpToAnythingButLoopback) {
  CurlTransport t;
  auto req = get("http://example.invalid/x");
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("without TLS"), std::string::npos);
  EXPECT_EQ(t.stats().requests, 0) << "nothing was sent";
}

TEST(CurlTransport, SkipsVerificationOfALoopbackServerOnlyForRequestsThatAskForIt) {
  RogueServer s(kTls + "/untrusted.pem", kTls + "/untrusted.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  s.start();
  CurlTransport t;
  auto strict = get(s.url("https", "localhost") + "/x");
  auto r1 = t.send(strict);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("TLS verification failed"), std::string::npos)
      << r1.error().message;

  auto lax = get(s.url("https", "localhost") + "/x");
  lax.tls.insecure_skip_verify = true;
  auto r2 = t.send(lax);
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->status, 200);

  // The unverified connection is cached now; a verifying request must not inherit it.
  auto strict_again = get(s.url("https", "localhost") + "/x");
  auto r3 = t.send(strict_again);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("TLS verification failed"), std::string::npos)
      << r3.error().message;
}

TEST(CurlTransport, RefusesToSkipVerificationForAnythingButLoopback) {
  CurlTransport t;
  auto req = get("https://example.invalid/x");
  req.tls.insecure_skip_verify = true;
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("only allowed for loopback"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(t.stats().requests, 0) << "nothing was sent";
}

TEST(CurlTransport, TrustsACaDirectory) {
  RogueServer s(kTls + "/server.pem", kTls + "/server.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  s.start();
  CurlTransport t;
  auto req = get(s.url("https", "localhost") + "/x");
  req.tls.ca_dir = kTls + "/ca-dir";
  auto r = t.send(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

std::string read_pin(const std::string& path) {
  std::ifstream in(path);
  std::string pin;
  std::getline(in, pin);
  return pin;
}

TEST(CurlTransport, AcceptsTheServerWhoseKeyMatchesThePinAndRefusesAnyOther) {
  RogueServer s(kTls + "/server.pem", kTls + "/server.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  s.start();
  const std::string right = read_pin(kTls + "/server.pin");
  ASSERT_EQ(right.rfind("sha256//", 0), 0u) << right;
  // A pin list matches when any of its pins does (the form used during a key change).
  const std::string wrong = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  CurlTransport t;
  for (const std::string& pins : {right, wrong + ";" + right}) {
    auto req = get(s.url("https", "localhost") + "/x");
    req.tls.ca_file = kTls + "/ca.pem";
    req.tls.pinned_public_key = pins;
    auto r = t.send(req);
    ASSERT_TRUE(r.ok()) << pins << ": " << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  // Same transport, so a cached connection verified with the right pin is at hand.
  auto req = get(s.url("https", "localhost") + "/x");
  req.tls.ca_file = kTls + "/ca.pem";
  req.tls.pinned_public_key = wrong;
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("does not match pinned_public_key"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("bearer-token-canary"), std::string::npos);
}

// A forward proxy on loopback: records each request line, answers absolute-form requests
// itself and tunnels CONNECT to the loopback port asked for.
class ProxyStub {
 public:
  ProxyStub() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "proxy stub cannot listen";
      return;
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~ProxyStub() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& w : workers_) w.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  std::string url(const std::string& userinfo = "") const {
    return "http://" + (userinfo.empty() ? "" : userinfo + "@") +
           "127.0.0.1:" + std::to_string(port_);
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  bool saw_proxy_authorization() const {
    std::lock_guard<std::mutex> lock(mu_);
    return saw_auth_;
  }

 private:
  void accept_loop() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0 && errno == EINTR) continue;
      if (fd < 0) return;  // shut down
      track(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void track(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
  }
  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void serve(int fd) {
    std::string head;
    char buf[16384];
    while (head.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      head.append(buf, static_cast<std::size_t>(n));
    }
    std::string line = head.substr(0, head.find("\r\n"));
    std::string lower_head = head;
    for (char& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(line);
      saw_auth_ = saw_auth_ || lower_head.find("\r\nproxy-authorization:") != std::string::npos;
    }
    if (line.rfind("CONNECT ", 0) != 0) {
      send_all(fd,
               "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
               "Connection: close\r\n\r\n{}");
      return;
    }
    std::string target = line.substr(8, line.find(' ', 8) - 8);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(target.substr(target.rfind(':') + 1))));
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    track(up);
    if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      send_all(fd, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (!send_all(fd, "HTTP/1.1 200 Connection established\r\n\r\n")) return;
    pollfd p[2] = {{fd, POLLIN, 0}, {up, POLLIN, 0}};
    for (;;) {
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      for (int i = 0; i < 2; ++i) {
        if (p[i].revents == 0) continue;
        ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(p[1 - i].fd, std::string_view(buf, static_cast<std::size_t>(n)))) {
          ::shutdown(p[1 - i].fd, SHUT_WR);
          return;
        }
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;  // touched by the acceptor only, then joined
  mutable std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::string> lines_;
  bool saw_auth_ = false;
};

// Sets or unsets environment variables for one test, and restores them.
class ScopedEnv {
 public:
  void set(const char* name, const std::optional<std::string>& value) {
    const char* old = std::getenv(name);
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// No proxy variables from the machine running the tests.
void clear_proxy_env(ScopedEnv& env) {
  for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                           "no_proxy", "NO_PROXY"})
    env.set(name, std::nullopt);
}

class CurlTransportProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_proxy_env(env_);
    server_->Get("/x", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{}", "application/json");
    });
    server_.start();
  }
  HttpRequest request() {
    auto req = get(server_.url("https", "localhost") + "/x");
    req.tls.ca_file = kTls + "/ca.pem";
    return req;
  }
  std::string connect_line() const {
    return "CONNECT " + server_.url("https", "localhost").substr(8) + " HTTP/1.1";
  }

  ScopedEnv env_;
  RogueServer server_{kTls + "/server.pem", kTls + "/server.key"};
  ProxyStub proxy_;
};

TEST_F(CurlTransportProxy, ConfiguredProxyTunnelsHttpsRequests) {
  CurlOptions o;
  o.proxy = proxy_.url();
  CurlTransport t(o);
  auto req = request();
  auto r = t.send(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(proxy_.lines(), std::vector<std::string>{connect_line()});
}

TEST_F(CurlTransportProxy, NoProxyHostsAreReachedDirectly) {
  CurlOptions o;
  o.proxy = proxy_.url();
  o.no_proxy = "salesforce.example.com,localhost";
  CurlTransport t(o);
  auto req = request();
  auto r = t.send(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(proxy_.lines().empty());
}

TEST_F(CurlTransportProxy, EnvironmentProxyAppliesWhenNoneIsConfigured) {
  env_.set("https_proxy", proxy_.url());
  CurlTransport t;
  auto req = request();
  auto r = t.send(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(proxy_.lines(), std::vector<std::string>{connect_line()});
}

TEST_F(CurlTransportProxy, PlainHttpToLoopbackNeverLeavesThroughAProxy) {
  RogueServer plain;
  plain->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("[]", "application/json");
  });
  plain.start();
  env_.set("http_proxy", proxy_.url());
  CurlOptions o;
  o.proxy = proxy_.url();
  CurlTransport t(o);
  auto req = get(plain.url("http") + "/x");
  auto r = t.send(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body.view(), "[]") << "answered by the server, not the proxy";
  EXPECT_TRUE(proxy_.lines().empty());
}

TEST_F(CurlTransportProxy, ProxyCredentialsAreSentToTheProxyAndNeverShownInErrors) {
  CurlOptions o;
  o.proxy = proxy_.url("agent:pr0xy-pa55word");
  CurlTransport t(o);
  auto req = request();
  auto r = t.send(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(proxy_.saw_proxy_authorization());

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // a port nobody listens on
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  CurlOptions dead;
  dead.proxy = "http://agent:pr0xy-pa55word@127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  CurlTransport t2(dead);
  auto req2 = request();
  auto r2 = t2.send(req2);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message.find("pa55word"), std::string::npos) << r2.error().message;
  EXPECT_EQ(redact_url_userinfo(dead.proxy).find("pa55word"), std::string::npos);
  EXPECT_EQ(redact_url_userinfo("http://u:p@proxy:3128/"), "http://[redacted]@proxy:3128/");
  EXPECT_EQ(redact_url_userinfo("http://proxy:3128"), "http://proxy:3128");
}

TEST(Json, RejectsInvalidUtf8AndSurvivesDeepNesting) {
  Secret bad("{\"key\":\"\xff\xfe\"}");
  rapidjson::Document d1;
  EXPECT_FALSE(json::parse_in_place(bad, d1, "answer").ok());
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  Secret nested(deep);
  rapidjson::Document d2;
  auto r = json::parse_in_place(nested, d2, "answer");  // iterative: no stack overflow
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(json::str(d2, "key").has_value()) << "wrong shapes read as absent";
}

}  // namespace
}  // namespace eca

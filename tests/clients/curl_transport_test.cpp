// The transport against servers gone rogue: every hostile answer becomes a clear error,
// nothing is followed or trusted that should not be, and nothing hangs.
#include "clients/curl_transport.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <thread>

#include "clients/json.h"

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
  s->Get("/moved", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(target);
  });
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
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  s.start();
  CurlTransport t;
  auto req = get(s.url("https", "localhost") + "/x");
  req.ca_file = kTls + "/ca.pem";
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Permanent);
  EXPECT_NE(r.error().message.find("TLS verification failed"), std::string::npos) << r.error().message;
}

TEST(CurlTransport, RefusesACertificateFromAnUntrustedCa) {
  RogueServer s(kTls + "/untrusted.pem", kTls + "/untrusted.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  s.start();
  CurlTransport t;
  auto req = get(s.url("https", "localhost") + "/x");
  req.ca_file = kTls + "/ca.pem";
  auto r = t.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("TLS verification failed"), std::string::npos) << r.error().message;
}

TEST(CurlTransport, TrustsTheConfiguredCaAndReusesTheConnection) {
  RogueServer s(kTls + "/server.pem", kTls + "/server.key");
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  s.start();
  CurlTransport t;
  for (int i = 0; i < 5; ++i) {
    auto req = get(s.url("https", "localhost") + "/x");
    req.ca_file = kTls + "/ca.pem";
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

// Server error text on its way into Error messages: tokens and echoed secrets are
// redacted, the explanation a person needs stays readable. Then the same through the
// clients, against servers whose error answers echo the secret they were sent.
#include "clients/scrub.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <thread>

#include "clients/curl_transport.h"
#include "clients/infisical_client.h"
#include "clients/salesforce_client.h"

namespace eca {
namespace {

struct Case {
  const char* name;
  std::string input;
  std::string expected;
};

const std::string kHex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const std::string kConsumerKey =
    "3MVG9IHf89I1t8hrvswazsWedXWY0i1qK20PSFaInvUgLFB6vrcb9bbWFTSIHpO8G2jxBLJA6uZGyPFC5Aejq";
const std::string kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_"
    "XgL0n3I9PlFUP0THsR8U";

TEST(Scrub, Table) {
  const std::vector<Case> cases = {
      {"plain text stays", "Session expired or invalid", "Session expired or invalid"},
      {"error codes stay", "INSUFFICIENT_ACCESS_OR_READONLY: not allowed",
       "INSUFFICIENT_ACCESS_OR_READONLY: not allowed"},
      {"consumer ids stay", "consumer 0HoKj0000008ABCDEF not found",
       "consumer 0HoKj0000008ABCDEF not found"},
      {"app ids stay", "no app 0xIKj0000004CwxKAE (15: 0xIKj0000004Cwx)",
       "no app 0xIKj0000004CwxKAE (15: 0xIKj0000004Cwx)"},
      {"short request ids stay", "see req-8f3k2LmQp0aZxY1", "see req-8f3k2LmQp0aZxY1"},
      {"host names stay", "cannot reach acme--uat.sandbox.my.salesforce.com",
       "cannot reach acme--uat.sandbox.my.salesforce.com"},
      {"hex secret", "bad secret " + kHex64 + " given", "bad secret [redacted] given"},
      {"consumer key", "unknown client_id=" + kConsumerKey, "unknown client_id=[redacted]"},
      {"jwt", "token " + kJwt + " expired", "token [redacted] expired"},
      {"short jwt", "got eyJhbGciOiJub25lIn0.e30.", "got [redacted]"},
      {"bearer", "header was Bearer abc.def", "header was Bearer [redacted]"},
      {"bearer lower case", "bearer s3cr3t, rejected", "bearer [redacted], rejected"},
      {"json access_token", R"({"access_token":"tok-123","scope":"api"})",
       R"({"access_token":"[redacted]","scope":"api"})"},
      {"json token with spaces", R"("token" : "short")", R"("token" : "[redacted]")"},
      {"camelCase consumerSecret", R"(consumerSecret: 'abc' is wrong)",
       R"(consumerSecret: '[redacted]' is wrong)"},
      {"form client_secret", "grant_type=client_credentials&client_secret=hunter2&x=1",
       "grant_type=client_credentials&client_secret=[redacted]&x=1"},
      {"password with spaces in quotes", R"(password="correct horse battery")",
       R"(password="[redacted]")"},
      {"escaped json", R"({\"clientSecret\":\"abc\"})", R"({\"clientSecret\":\"[redacted]\"})"},
      {"empty value left", R"("secret":"")", R"("secret":"")"},
      {"key without value", "the token has expired", "the token has expired"},
      {"base64 with slashes", "value q3Bv+/9tS2xZ0aL1mN8pQ7rT4uV6wX== rejected",
       "value [redacted] rejected"},
      {"control characters", "line one\nline two\r\n\tend", "line one line two   end"},
      {"trimmed", "  padded \n", "padded"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(scrub_server_text(c.input), c.expected) << c.name;
  }
}

TEST(Scrub, CutsLongTextOnACharacterBoundaryAfterRedacting) {
  std::string text = std::string(290, 'a') + " " + kHex64;  // the token straddles the limit
  std::string out = scrub_server_text(text, 300);
  EXPECT_EQ(out.find(kHex64.substr(0, 8)), std::string::npos) << out;
  EXPECT_EQ(out, std::string(290, 'a') + " [redacted...");

  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";  // é, two bytes each
  std::string cut = scrub_server_text(accents, 11);
  EXPECT_EQ(cut, accents.substr(0, 10) + "...") << "no half character";
}

// A loopback server standing in for Salesforce and Infisical, whose error answers echo
// what it was sent.
class EchoServer {
 public:
  EchoServer() { server_.set_tcp_nodelay(true); }
  ~EchoServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Server* operator->() { return &server_; }
  std::string start() {
    int port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return "http://127.0.0.1:" + std::to_string(port);
  }

 private:
  httplib::Server server_;
  std::thread thread_;
};

const std::string kSfSecret = "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9";
const std::string kInfSecret = "d8e8fca2dc0f896fd7cb4cb0031ba249a1b2c3d4e5f60718293a4b5c6d7e8f9a";

TEST(ScrubClients, SalesforceTokenErrorEchoingTheSecretKeepsOnlyTheExplanation) {
  EchoServer s;
  s->Post("/services/oauth2/token", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 400;
    res.set_content(
        R"({"error":"invalid_client","error_description":"invalid client credentials )" +
            req.get_param_value("client_secret") + R"("})",
        "application/json");
  });
  SalesforceEndpoint ep;
  ep.name = "acme";
  ep.my_domain_url = s.start();
  ep.client_id = "3MVGconnection";
  ep.client_secret = Secret(kSfSecret);
  CurlTransport transport;
  SalesforceClient client(transport, std::move(ep));
  auto st = client.authenticate();
  ASSERT_FALSE(st.ok());
  const std::string text = st.error().describe();
  EXPECT_EQ(text.find(kSfSecret), std::string::npos) << text;
  EXPECT_EQ(text.find(kSfSecret.substr(0, 16)), std::string::npos) << text;
  EXPECT_NE(text.find("invalid client credentials [redacted]"), std::string::npos) << text;
  EXPECT_EQ(st.error().code, "invalid_client");
}

TEST(ScrubClients, SalesforceRestErrorEchoingTheBearerTokenKeepsTheCode) {
  EchoServer s;
  s->Post("/services/oauth2/token", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        R"({"access_token":"00Dxx0000001gPL!AQ4AQFh7sWc3vN0pPq1oZrTyUiOpAsDfGhJkLzXcVbNm"})",
        "application/json");
  });
  s->Get(R"(/services/data/.*)", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"([{"errorCode":"MALFORMED_QUERY","message":"cannot use )" +
                        req.get_header_value("Authorization") + R"( here"}])",
                    "application/json");
  });
  SalesforceEndpoint ep;
  ep.name = "acme";
  ep.my_domain_url = s.start();
  ep.client_id = "3MVGconnection";
  ep.client_secret = Secret(kSfSecret);
  CurlTransport transport;
  SalesforceClient client(transport, std::move(ep));
  auto r = client.consumers("0xIKj0000004CwxKAE");
  ASSERT_FALSE(r.ok());
  const std::string text = r.error().describe();
  EXPECT_EQ(text.find("AQ4AQFh7sWc3vN0pPq1o"), std::string::npos) << text;
  EXPECT_NE(text.find("cannot use Bearer [redacted] here"), std::string::npos) << text;
  EXPECT_NE(text.find("MALFORMED_QUERY"), std::string::npos) << text;
}

TEST(ScrubClients, InfisicalLoginErrorEchoingTheSecretKeepsTheRequestId) {
  EchoServer s;
  s->Post("/api/v1/auth/universal-auth/login", [](const httplib::Request& req,
                                                  httplib::Response& res) {
    res.status = 401;
    // The request body echoed back (quotes made single), as a careless validation error might.
    std::string echo = req.body;
    for (char& c : echo)
      if (c == '"') c = '\'';
    res.set_content(R"({"reqId":"req-Ab12Cd34Ef56Gh","statusCode":401,"error":"UnauthorizedError",)"
                    R"("message":"Invalid credentials for )" +
                        echo + R"("})",
                    "application/json");
  });
  InfisicalEndpoint ep;
  ep.url = s.start();
  ep.project_id = "proj-1";
  ep.environment = "prod";
  ep.client_id = "identity-1";
  ep.client_secret = Secret(kInfSecret);
  CurlTransport transport;
  InfisicalClient client(transport, std::move(ep));
  auto st = client.login();
  ASSERT_FALSE(st.ok());
  const std::string text = st.error().describe();
  EXPECT_EQ(text.find(kInfSecret), std::string::npos) << text;
  EXPECT_EQ(text.find(kInfSecret.substr(0, 16)), std::string::npos) << text;
  EXPECT_NE(text.find("Invalid credentials for"), std::string::npos) << text;
  EXPECT_NE(text.find("identity-1"), std::string::npos)
      << "the client id is not a secret: " << text;
  EXPECT_NE(text.find("reqId req-Ab12Cd34Ef56Gh"), std::string::npos) << text;
}

}  // namespace
}  // namespace eca

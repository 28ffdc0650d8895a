#include "tests/sandbox/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/sandbox/test_http.h"

namespace eca::sandbox {
namespace {

using testing::Reply;
using testing::TestHttp;
using namespace std::chrono_literals;

constexpr const char* kPath = "/salesforce/app1";

class SandboxTest : public ::testing::Test {
 protected:
  explicit SandboxTest(SandboxOptions options = {}) : sb_(options) {}

  // Logs in to the fake Infisical as the seeded identity and writes a pair with one
  // batch upsert, creating the folder first, as the agent would.
  Reply publish(const std::string& key, const std::string& secret) {
    TestHttp http(sb_.infisical().base_url(), sb_.ca_file());
    const Reply login =
        http.post("/api/v1/auth/universal-auth/login",
                  R"({"clientId":")" + sb_.infisical_client_id() + R"(","clientSecret":")" +
                      sb_.infisical_client_secret() + R"("})");
    EXPECT_EQ(login.status, 200) << login.body;
    http.set_bearer(login.json()["accessToken"].GetString());
    http.post("/api/v1/folders",
              R"({"workspaceId":")" + sb_.project_id() +
                  R"(","environment":"dev","name":"app1","path":"/salesforce"})");
    return http.patch("/api/v3/secrets/batch/raw",
                      R"({"workspaceId":")" + sb_.project_id() +
                          R"(","environment":"dev","secretPath":")" + kPath +
                          R"(","mode":"upsert","secrets":[)"
                          R"({"secretKey":"SALESFORCE_CONSUMER_KEY","secretValue":")" +
                          key + R"("},{"secretKey":"SALESFORCE_CONSUMER_SECRET","secretValue":")" +
                          secret + R"("}]})");
  }

  Sandbox sb_;
};

TEST_F(SandboxTest, SeedsWhatAnAgentNeeds) {
  EXPECT_EQ(sb_.connection_app().developer_name, "Connection_App");
  ASSERT_EQ(sb_.target_apps().size(), 3u);
  EXPECT_EQ(sb_.target_apps()[0].developer_name, "Target_App_1");
  EXPECT_EQ(&sb_.clock(), &sb_.salesforce().clock());
  EXPECT_EQ(&sb_.clock(), &sb_.infisical().clock());
  EXPECT_TRUE(sb_.salesforce().authenticates(sb_.connection_app().primary().key,
                                             sb_.connection_app().primary().secret));
  EXPECT_EQ(publish("k", "s").status, 200);
  EXPECT_TRUE(sb_.ca_file().empty());
  EXPECT_EQ(sb_.salesforce().base_url().rfind("http://127.0.0.1:", 0), 0u);
}

TEST_F(SandboxTest, RecorderAcceptsAValidPairAndCatchesAWrongOne) {
  sb_.watch(sb_.project_id(), "dev", kPath);
  const AppInfo& app = sb_.target_apps()[0];
  ASSERT_EQ(publish(app.primary().key, app.primary().secret).status, 200);
  EXPECT_TRUE(sb_.violations().empty());

  const std::string wrong = "0000000000000000000000000000000000000000000000000000000000000000";
  ASSERT_EQ(publish(app.primary().key, wrong).status, 200);
  const auto violations = sb_.violations();
  ASSERT_EQ(violations.size(), 1u);
  const std::string& text = violations[0].description;
  EXPECT_NE(text.find("does not authenticate"), std::string::npos) << text;
  EXPECT_NE(text.find("inf.upsert"), std::string::npos) << text;
  EXPECT_EQ(text.find(app.primary().key), std::string::npos) << "a key leaked: " << text;
  EXPECT_EQ(text.find(wrong), std::string::npos);

  // The same breakage is recorded once, not at every later event.
  sb_.check_now();
  EXPECT_EQ(sb_.violations().size(), 1u);
  ASSERT_EQ(publish(app.primary().key, app.primary().secret).status, 200);
  sb_.clear_violations();
  sb_.check_now();
  EXPECT_TRUE(sb_.violations().empty());
}

TEST_F(SandboxTest, RecorderCanRequireTheMappedEca) {
  const AppInfo& mapped = sb_.target_apps()[0];
  const AppInfo& other = sb_.target_apps()[1];
  sb_.watch(sb_.project_id(), "dev", kPath, Sandbox::kKeyName, Sandbox::kSecretName, mapped.id);
  ASSERT_EQ(publish(mapped.primary().key, mapped.primary().secret).status, 200);
  EXPECT_TRUE(sb_.violations().empty());
  ASSERT_EQ(publish(other.primary().key, other.primary().secret).status, 200);
  ASSERT_EQ(sb_.violations().size(), 1u);
  EXPECT_NE(sb_.violations()[0].description.find("another ECA"), std::string::npos);
}

TEST_F(SandboxTest, RecorderCatchesRevokingWhatInfisicalHolds) {
  sb_.watch(sb_.project_id(), "dev", kPath);
  const AppInfo& app = sb_.target_apps()[0];
  ASSERT_EQ(publish(app.primary().key, app.primary().secret).status, 200);
  ASSERT_TRUE(sb_.salesforce().stage_by_hand(app.id));
  ASSERT_TRUE(sb_.salesforce().promote_by_hand(app.id));
  EXPECT_TRUE(sb_.violations().empty());  // Rotated still authenticates
  ASSERT_TRUE(sb_.salesforce().revoke_staged_by_hand(app.id));
  ASSERT_EQ(sb_.violations().size(), 1u);
  EXPECT_NE(sb_.violations()[0].description.find("Salesforce revoke"), std::string::npos);
}

TEST_F(SandboxTest, RecorderCatchesExpiryWhenTheClockMoves) {
  sb_.watch(sb_.project_id(), "dev", kPath);
  const AppInfo& app = sb_.target_apps()[0];
  ASSERT_EQ(publish(app.primary().key, app.primary().secret).status, 200);
  ASSERT_TRUE(sb_.salesforce().stage_by_hand(app.id));
  ASSERT_TRUE(sb_.salesforce().promote_by_hand(app.id));
  sb_.clock().advance(std::chrono::hours(24 * 29));
  EXPECT_TRUE(sb_.violations().empty());
  sb_.clock().advance(std::chrono::hours(24 * 2));
  ASSERT_EQ(sb_.violations().size(), 1u);
  EXPECT_NE(sb_.violations()[0].description.find("clock"), std::string::npos);
}

TEST_F(SandboxTest, RecorderUsesTheDecoder) {
  sb_.watch(sb_.project_id(), "dev", kPath);
  sb_.set_decoder([](const std::string& stored) -> std::optional<std::string> {
    if (stored.rfind("sealed:", 0) != 0) return std::nullopt;
    return stored.substr(7);
  });
  const AppInfo& app = sb_.target_apps()[1];
  ASSERT_EQ(publish("sealed:" + app.primary().key, "sealed:" + app.primary().secret).status, 200);
  EXPECT_TRUE(sb_.violations().empty());
  ASSERT_EQ(publish(app.primary().key, app.primary().secret).status, 200);
  ASSERT_EQ(sb_.violations().size(), 1u);
  EXPECT_NE(sb_.violations()[0].description.find("cannot open"), std::string::npos);
}

class HttpsSandboxTest : public SandboxTest {
 protected:
  HttpsSandboxTest() : SandboxTest(https_options()) {}
  static SandboxOptions https_options() {
    SandboxOptions options;
    options.https = true;
    return options;
  }
};

TEST_F(HttpsSandboxTest, BothFakesServeTls) {
  EXPECT_EQ(sb_.salesforce().base_url().rfind("https://", 0), 0u);
  EXPECT_EQ(sb_.infisical().base_url().rfind("https://", 0), 0u);
  EXPECT_FALSE(sb_.ca_file().empty());
  EXPECT_EQ(publish("k", "s").status, 200);
}

// ---- the standalone program ---------------------------------------------------------

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    }
    vars[line.substr(0, eq)] = value;
  }
  return vars;
}

TEST(SandboxProgram, ServesWritesTheEnvFileAndSummarisesOnSigterm) {
  char dir_template[] = "/tmp/eca-sandbox-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string env_file = dir + "/sandbox.env";
  const std::string err_file = dir + "/stderr";

  int out_pipe[2];
  ASSERT_EQ(pipe(out_pipe), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(out_pipe[1], 1);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err, 2);
    close(out_pipe[0]);
    execl(ECA_SANDBOX_BIN, ECA_SANDBOX_BIN, "--apps", "2", "--https", "--env-file",
          env_file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out_pipe[1]);
  std::string out;
  char c;
  while (out.find('\n') == std::string::npos && read(out_pipe[0], &c, 1) == 1) out += c;
  ASSERT_EQ(out, "ready\n");

  struct stat st {};
  ASSERT_EQ(stat(env_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto env = read_env_file(env_file);
  for (const char* name :
       {"SANDBOX_SALESFORCE_URL", "SANDBOX_INFISICAL_URL", "SANDBOX_CONNECTION_CLIENT_ID",
        "SANDBOX_CONNECTION_CLIENT_SECRET", "SANDBOX_INFISICAL_CLIENT_ID",
        "SANDBOX_INFISICAL_CLIENT_SECRET", "SANDBOX_PROJECT_ID", "SANDBOX_APP_IDS",
        "SANDBOX_APP_NAMES", "SANDBOX_CA_FILE"}) {
    EXPECT_FALSE(env[name].empty()) << name;
  }
  EXPECT_EQ(env["SANDBOX_APP_NAMES"], "Target_App_1 Target_App_2");
  EXPECT_EQ(env["SANDBOX_APP_IDS"].size(), 18u * 2 + 1);

  TestHttp sf(env["SANDBOX_SALESFORCE_URL"], env["SANDBOX_CA_FILE"]);
  Reply reply = sf.post_form("/services/oauth2/token",
                             {{"grant_type", "client_credentials"},
                              {"client_id", env["SANDBOX_CONNECTION_CLIENT_ID"]},
                              {"client_secret", env["SANDBOX_CONNECTION_CLIENT_SECRET"]}});
  EXPECT_EQ(reply.status, 200);
  reply = sf.get("/__sandbox/credentials");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body.find(env["SANDBOX_CONNECTION_CLIENT_ID"]), std::string::npos);
  EXPECT_EQ(reply.body.find(env["SANDBOX_CONNECTION_CLIENT_SECRET"]), std::string::npos);
  EXPECT_EQ(reply.json()["apps"].Size(), 3u);

  TestHttp inf(env["SANDBOX_INFISICAL_URL"], env["SANDBOX_CA_FILE"]);
  reply = inf.post("/__sandbox/clock", R"({"advance_seconds": 86400})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json()["offset_seconds"].GetInt(), 86400);
  EXPECT_EQ(inf.get("/__sandbox/secrets").status, 200);

  ASSERT_EQ(kill(child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream err_in(err_file);
  std::stringstream err;
  err << err_in.rdbuf();
  EXPECT_NE(err.str().find("sf.token 1 (200 x1)"), std::string::npos) << err.str();
  close(out_pipe[0]);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eca::sandbox

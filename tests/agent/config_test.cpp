// Unit tests of load_config on configs written to a temporary directory:
// drop-in merging, expansion, secrets (inline, *_file, $CREDENTIALS_DIRECTORY),
// file permission rules, defaults, warnings and error reporting.
#include "agent/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "crypto/key_pair.h"

namespace fs = std::filesystem;

namespace {

const std::string kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kInfSecret = "unit-SECRET-infisical-1";
const std::string kSfSecret = "unit-SECRET-salesforce-2";

std::map<std::string, std::string> g_env;
std::optional<std::string> lookup(const std::string& name) {
  auto it = g_env.find(name);
  if (it == g_env.end()) return std::nullopt;
  return it->second;
}

std::string header(const std::string& inf_secret_line = "client_secret = \"${INF_SECRET}\"",
                   const std::string& sf_secret_line = "client_secret = \"${SF_SECRET}\"") {
  return "[infisical]\n"
         "url = \"https://infisical.example.com\"\n"
         "project_id = \"proj\"\n"
         "environment = \"prod\"\n"
         "[infisical.auth]\n"
         "client_id = \"id\"\n" +
         inf_secret_line + "\n" +
         "[encryption]\n"
         "recipient_public_key = \"" +
         kKey +
         "\"\n"
         "[connections.acme]\n"
         "my_domain_url = \"https://acme.my.salesforce.com\"\n"
         "client_id = \"3MVGacme\"\n" +
         sf_secret_line + "\n";
}

std::string rotation(const std::string& name, const std::string& app, const std::string& path,
                     const std::string& extra = "") {
  return "[[rotation]]\nname = \"" + name + "\"\nconnection = \"acme\"\napp_id = \"" + app +
         "\"\nsecret_path = \"" + path + "\"\n" + extra;
}

std::string errors_of(const eca::ConfigLoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e.to_string() + "\n";
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(),
                     [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eca-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    g_env = {{"INF_SECRET", kInfSecret}, {"SF_SECRET", kSfSecret}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& rel, const std::string& text, mode_t mode = 0600) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
  eca::ConfigLoadResult load(const std::string& rel = "agent.toml") {
    return eca::load_config(dir_ / rel, lookup);
  }
  const eca::Config& valid(const eca::ConfigLoadResult& r) {
    EXPECT_TRUE(r.config.has_value()) << errors_of(r);
    if (!r.config) throw std::runtime_error(errors_of(r));
    return *r.config;
  }
  // For a temporary result: kept alive until the next call.
  const eca::Config& valid(eca::ConfigLoadResult&& r) {
    last_ = std::move(r);
    return valid(last_);
  }
  void expect_error(const eca::ConfigLoadResult& r, const std::string& needle) {
    EXPECT_FALSE(r.config.has_value());
    std::string all = errors_of(r);
    EXPECT_NE(all.find(needle), std::string::npos) << "wanted: " << needle << "\ngot:\n" << all;
    EXPECT_EQ(all.find(kInfSecret), std::string::npos) << all;
    EXPECT_EQ(all.find(kSfSecret), std::string::npos) << all;
  }

  fs::path dir_;
  eca::ConfigLoadResult last_;
};

TEST_F(ConfigTest, DropInsAppendRotationsAndOverrideScalarsInLexicalOrder) {
  write("agent.toml", "[agent]\nconcurrency = 2\nstate_dir = \"/srv/state\"\n" + header() +
                          rotation("main", "0xIKj0000004AAAKAE", "/main"));
  // "10-" sorts before "9-": lexical, not numeric, order.
  write("conf.d/9-last.toml",
        "[agent]\nconcurrency = 9\n" + rotation("nine", "0xIKj0000004CCCKAE", "/nine"));
  write("conf.d/10-first.toml", "[agent]\nconcurrency = 10\nlog_format = \"json\"\n" +
                                    rotation("ten", "0xIKj0000004BBBKAE", "/ten"));
  write("conf.d/README.md", "not toml");
  write("conf.d/.swap.toml", "broken = [");
  fs::create_directories(dir_ / "conf.d" / "dir.toml");
  auto r = load();
  const auto& c = valid(r);
  ASSERT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.files[1].filename(), "10-first.toml");
  EXPECT_EQ(c.files[2].filename(), "9-last.toml");
  EXPECT_EQ(c.agent.concurrency, 9);
  EXPECT_EQ(c.agent.log_format, eca::LogFormat::Json);   // set only by a drop-in
  EXPECT_EQ(c.agent.state_dir, fs::path("/srv/state"));  // [agent] merged, not replaced
  ASSERT_EQ(c.rotations.size(), 3u);
  EXPECT_EQ(c.rotations[0].name, "main");
  EXPECT_EQ(c.rotations[1].name, "ten");
  EXPECT_EQ(c.rotations[2].name, "nine");
  EXPECT_EQ(c.rotations[2].source, (dir_ / "conf.d/9-last.toml").string() + ":3");
}

TEST_F(ConfigTest, DropInCanAddAConnectionAndOverrideOneKeyOfAnother) {
  write("agent.toml", header() + rotation("main", "0xIKj0000004AAAKAE", "/main"));
  write("conf.d/50.toml",
        "[connections.acme]\napi_version = \"v70.0\"\n"
        "[connections.other]\nmy_domain_url = \"https://other.my.salesforce.com\"\nclient_id = "
        "\"3MVGo\"\n"
        "client_secret = \"${SF_SECRET}\"\n"
        "[[rotation]]\nname = \"other\"\nconnection = \"other\"\napp_id = \"0xIKj0000004AAAKAE\"\n"
        "secret_path = \"/other\"\n");
  auto r = load();
  const auto& c = valid(r);
  EXPECT_EQ(c.connections.at("acme").api_version, "v70.0");
  EXPECT_EQ(c.connections.at("acme").client_id, "3MVGacme");
  EXPECT_EQ(c.connections.at("other").my_domain_url, "https://other.my.salesforce.com");
  // Same app id on two different connections (two orgs) does not conflict.
  EXPECT_EQ(c.rotations.size(), 2u);
}

TEST_F(ConfigTest, DuplicateRotationAcrossFilesNamesBothFiles) {
  write("agent.toml", header() + rotation("billing", "0xIKj0000004AAAKAE", "/a"));
  write("conf.d/10.toml", "\n\n" + rotation("billing", "0xIKj0000004BBBKAE", "/b"));
  auto r = load();
  expect_error(r, (dir_ / "conf.d/10.toml").string() +
                      ":4: rotation[1].name: rotation name \"billing\" is defined twice: at " +
                      (dir_ / "agent.toml").string() + ":14 and at " +
                      (dir_ / "conf.d/10.toml").string() + ":3");
}

TEST_F(ConfigTest, LaterFileWithWrongTypeIsReportedThere) {
  write("agent.toml",
        "[agent]\nconcurrency = 2\n" + header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  write("conf.d/10.toml", "[agent]\nconcurrency = \"lots\"\n");
  expect_error(load(), (dir_ / "conf.d/10.toml").string() +
                           ":2: agent.concurrency: expected an integer, got a string");
}

TEST_F(ConfigTest, InlineAndFileSecretAcrossFilesIsAnError) {
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  write("sf-secret", kSfSecret + "\n");
  write("conf.d/10.toml", "[connections.acme]\nclient_secret_file = \"sf-secret\"\n");
  auto r = load();
  expect_error(
      r,
      "connections.acme.client_secret: set either client_secret or client_secret_file, not both");
  expect_error(r, "(other one at " + (dir_ / "agent.toml").string() + ":13)");
}

TEST_F(ConfigTest, DefaultsApplied) {
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_EQ(c.agent.state_dir, fs::path("/var/lib/eca-rotator"));
  EXPECT_EQ(c.agent.concurrency, 4);
  EXPECT_EQ(c.agent.log_format, eca::LogFormat::Text);
  EXPECT_EQ(c.agent.timezone, "local");
  EXPECT_EQ(c.agent.stale_staged_minutes, 60);
  EXPECT_EQ(c.infisical.auth_method, "universal-auth");
  EXPECT_EQ(c.encryption.mode, eca::EncryptionMode::SealedBox);
  EXPECT_EQ(c.connections.at("acme").api_version, "v65.0");
  EXPECT_EQ(c.connections.at("acme").api_reserve_percent, 10);
  const auto& r = c.rotations.at(0);
  EXPECT_EQ(r.interval_days, 30);
  EXPECT_EQ(r.rotate_at.text(), "00:00");
  EXPECT_TRUE(r.auto_rotation);
  EXPECT_FALSE(r.adopt);
  EXPECT_EQ(r.consumer_key_secret, "SALESFORCE_CONSUMER_KEY");
  EXPECT_EQ(r.consumer_secret_secret, "SALESFORCE_CONSUMER_SECRET");
  EXPECT_TRUE(c.infisical.client_secret.equals(kInfSecret));
  EXPECT_TRUE(c.connections.at("acme").client_secret.equals(kSfSecret));
  EXPECT_TRUE(c.warnings.empty()) << ::testing::PrintToString(c.warnings);
}

TEST_F(ConfigTest, ExpansionCannotInjectStructure) {
  g_env["DESC"] = "\"\nconcurrency = 99\n[[rotation]]\nname = \"evil\"\n#";
  g_env["STATE"] = "/srv/x\"\nconcurrency = 77";
  write("agent.toml", "[agent]\nstate_dir = \"${STATE}\"\n" + header() +
                          rotation("a", "0xIKj0000004AAAKAE", "/a", "description = \"${DESC}\"\n"));
  const auto& c = valid(load());
  EXPECT_EQ(c.agent.concurrency, 4);
  EXPECT_EQ(c.agent.state_dir, fs::path(g_env["STATE"]));
  ASSERT_EQ(c.rotations.size(), 1u);
  EXPECT_EQ(c.rotations[0].description, g_env["DESC"]);
}

TEST_F(ConfigTest, ExpandedValuesAreValidatedLikeLiterals) {
  g_env["NAME"] = "Not A Slug";
  write("agent.toml", header() + rotation("${NAME}", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "rotation[0].name: must be a slug");
}

TEST_F(ConfigTest, DoubleDollarInValues) {
  write("agent.toml",
        header("client_secret = \"pa$$word\"") +
            rotation("a", "0xIKj0000004AAAKAE", "/a", "description = \"$${literal} $$HOME\"\n"));
  const auto& c = valid(load());
  EXPECT_TRUE(c.infisical.client_secret.equals("pa$word"));
  EXPECT_EQ(c.rotations[0].description, "${literal} $HOME");
}

TEST_F(ConfigTest, MissingVariableNamesVariableFileLineAndKey) {
  g_env.erase("SF_SECRET");
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(
      load(), (dir_ / "agent.toml").string() +
                  ":13: connections.acme.client_secret: environment variable SF_SECRET is not set");
}

TEST_F(ConfigTest, CredentialsDirectoryProvidesSecrets) {
  write("creds/infisical-client-secret", kInfSecret + "\n", 0400);
  write("creds/sf-acme-client-secret", kSfSecret + "\r\n", 0400);
  g_env = {{"CREDENTIALS_DIRECTORY", (dir_ / "creds").string()}};
  write("agent.toml", header("# no infisical secret here", "# none here either") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_TRUE(c.infisical.client_secret.equals(kInfSecret));
  EXPECT_TRUE(c.connections.at("acme").client_secret.equals(kSfSecret));
}

TEST_F(ConfigTest, ExplicitSecretWinsOverCredentialsDirectory) {
  write("creds/infisical-client-secret", "from-credentials\n", 0400);
  g_env["CREDENTIALS_DIRECTORY"] = (dir_ / "creds").string();
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_TRUE(c.infisical.client_secret.equals(kInfSecret));
}

TEST_F(ConfigTest, MissingCredentialIsAnErrorNamingTheCredential) {
  fs::create_directories(dir_ / "creds");
  g_env = {{"CREDENTIALS_DIRECTORY", (dir_ / "creds").string()}, {"SF_SECRET", kSfSecret}};
  write("agent.toml", header("# none") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(
      load(),
      ":5: infisical.auth.client_secret: required key is missing; set client_secret_file (or "
      "client_secret), or pass the systemd credential \"infisical-client-secret\" with "
      "LoadCredential=");
}

TEST_F(ConfigTest, SecretFileTrailingNewlineStrippedAndRelativePathResolved) {
  write("secrets/inf", kInfSecret + "\n\n", 0600);
  write("agent.toml",
        header("client_secret_file = \"secrets/inf\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_TRUE(c.infisical.client_secret.equals(kInfSecret));
  EXPECT_TRUE(c.warnings.empty()) << ::testing::PrintToString(c.warnings);
}

TEST_F(ConfigTest, SecretFileKeepsInnerWhitespace) {
  write("inf", " a b\nc \n", 0600);
  write("agent.toml",
        header("client_secret_file = \"inf\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_TRUE(valid(load()).infisical.client_secret.equals(" a b\nc "));
}

TEST_F(ConfigTest, SecretFileWritableByGroupOrOthersIsAnError) {
  for (mode_t mode : {0620, 0602, 0666}) {
    write("inf", kInfSecret, mode);
    write("agent.toml",
          header("client_secret_file = \"inf\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
    expect_error(load(), ":7: infisical.auth.client_secret_file: secret file " +
                             (dir_ / "inf").string() + " is writable by group or others");
  }
}

TEST_F(ConfigTest, SecretFileReadableByOthersIsAWarning) {
  write("inf", kInfSecret, 0644);
  write("agent.toml",
        header("client_secret_file = \"inf\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_TRUE(contains(c.warnings, ":7: infisical.auth.client_secret_file: secret file " +
                                       (dir_ / "inf").string() +
                                       " is readable by others (mode 0644)"))
      << ::testing::PrintToString(c.warnings);
  // Group-readable (0640 root:eca-rotator) is the packaged layout: no warning.
  write("inf", kInfSecret, 0640);
  EXPECT_TRUE(valid(load()).warnings.empty());
}

TEST_F(ConfigTest, SecretFileEmptyMissingOrDirectory) {
  write("empty", "\n", 0600);
  write("agent.toml",
        header("client_secret_file = \"empty\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "secret file " + (dir_ / "empty").string() + " is empty");
  write("agent.toml",
        header("client_secret_file = \"nope\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "cannot open secret file " + (dir_ / "nope").string() +
                           ": No such file or directory");
  fs::create_directories(dir_ / "adir");
  write("agent.toml",
        header("client_secret_file = \"adir\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "is not a regular file");
}

TEST_F(ConfigTest, InlineSecretInReadableConfigIsAWarning) {
  write(
      "agent.toml",
      header("client_secret = \"" + kInfSecret + "\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"),
      0640);
  const auto& c = valid(load());
  ASSERT_EQ(c.warnings.size(), 1u) << ::testing::PrintToString(c.warnings);
  EXPECT_NE(c.warnings[0].find(
                ":7: infisical.auth.client_secret: an inline secret in a file readable by group or "
                "others (mode 0640); consider client_secret_file or LoadCredential="),
            std::string::npos)
      << c.warnings[0];
  EXPECT_EQ(c.warnings[0].find(kInfSecret), std::string::npos);
}

TEST_F(ConfigTest, InlineSecretInPrivateConfigOrAsPureReferenceIsFine) {
  write(
      "agent.toml",
      header("client_secret = \"" + kInfSecret + "\"") + rotation("a", "0xIKj0000004AAAKAE", "/a"),
      0600);
  EXPECT_TRUE(valid(load()).warnings.empty());
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a"),
        0644);  // "${INF_SECRET}"
  EXPECT_TRUE(valid(load()).warnings.empty());
  write("agent.toml",
        header("client_secret = \"${UNSET:-" + kInfSecret + "}\"") +
            rotation("a", "0xIKj0000004AAAKAE", "/a"),
        0644);
  EXPECT_TRUE(contains(valid(load()).warnings, "an inline secret"));
}

TEST_F(ConfigTest, SecretsNeverAppearInErrors) {
  // A secret that is not a string, a secret with a bad reference, and other errors around them.
  write("agent.toml", "[agent]\nconcurrency = \"" + kSfSecret + "-not-a-number\"\n" +
                          header("client_secret = \"" + kInfSecret + "${\"") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  auto r = load();
  EXPECT_FALSE(r.config);
  EXPECT_EQ(errors_of(r).find(kInfSecret), std::string::npos) << errors_of(r);
  EXPECT_GE(r.errors.size(), 2u);
}

TEST_F(ConfigTest, CollectsAllErrorsInFileOrder) {
  write("agent.toml", "[agent]\nconcurrency = 0\nlog_format = \"xml\"\n" + header() +
                          rotation("a", "0xIKj0000004AAAKAE", "/a/",
                                   "interval_days = 0\nrotate_at = \"25:00\"\nbogus = 1\n"));
  auto r = load();
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 6u) << errors_of(r);
  std::vector<int> lines;
  for (const auto& e : r.errors) lines.push_back(e.line);
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end())) << errors_of(r);
  EXPECT_EQ(r.errors[0].key, "agent.concurrency");
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_EQ(r.errors[0].file, (dir_ / "agent.toml").string());
  EXPECT_EQ(r.errors[1].key, "agent.log_format");
}

TEST_F(ConfigTest, SyntaxErrorHasLineAndColumn) {
  write("agent.toml", "[agent]\nconcurrency = 4\nlog_format = 'text\n");
  auto r = load();
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_GT(r.errors[0].column, 0);
  EXPECT_EQ(r.errors[0].to_string().rfind((dir_ / "agent.toml").string() + ":3:", 0), 0u)
      << r.errors[0].to_string();
}

TEST_F(ConfigTest, SyntaxErrorsOfSeveralFilesAreAllReported) {
  write("agent.toml", "[agent\n");
  write("conf.d/1.toml", "x = \n");
  write("conf.d/2.toml", "[agent]\nconcurrency = 3\n");
  auto r = load();
  EXPECT_EQ(r.errors.size(), 2u) << errors_of(r);
}

TEST_F(ConfigTest, MissingMainFileIsAnErrorNotAnException) {
  auto r = load("does-not-exist.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            (dir_ / "does-not-exist.toml").string() + ": cannot open: No such file or directory");
  fs::create_directories(dir_ / "dir.toml");
  EXPECT_FALSE(load("dir.toml").errors.empty());
}

TEST_F(ConfigTest, MissingSectionsReportRequiredKeys) {
  write("agent.toml", "[agent]\n");
  auto r = load();
  ASSERT_FALSE(r.config);
  std::string all = errors_of(r);
  for (const char* key : {"infisical.url", "infisical.project_id", "infisical.environment",
                          "infisical.auth.client_id", "infisical.auth.client_secret",
                          "encryption.recipient_public_key"})
    EXPECT_NE(all.find(std::string(": ") + key + ": required key is missing"), std::string::npos)
        << key << "\n"
        << all;
}

TEST_F(ConfigTest, SeveralRecipientKeysFromTheMainFileAndDropInsInOrder) {
  const std::string k2 = eca::generate_key_pair().public_key_b64;
  const std::string k3 = eca::generate_key_pair().public_key_b64;
  // The main file has both forms; a drop-in adds a consumer's key (arrays append across
  // files, as [[rotation]] does).
  std::string text = header();
  text.replace(text.find("[connections.acme]"), 0, "recipient_public_keys = [\"" + k2 + "\"]\n");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  write("conf.d/50-consumer.toml", "[encryption]\nrecipient_public_keys = [\"" + k3 + "\"]\n");
  const auto& c = valid(load());
  EXPECT_EQ(c.encryption.recipient_public_keys, (std::vector<std::string>{kKey, k2, k3}));
}

TEST_F(ConfigTest, RecipientKeyListedTwiceOrMalformedIsAnErrorNamingTheEntry) {
  std::string text = header();
  text.replace(text.find("[connections.acme]"), 0,
               "recipient_public_keys = [\"" + kKey + "\", \"not-a-key\", 3]\n");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  auto r = load();
  ASSERT_FALSE(r.config);
  const std::string all = errors_of(r);
  EXPECT_NE(all.find("encryption.recipient_public_keys[0]: key "), std::string::npos) << all;
  EXPECT_NE(all.find("is listed twice"), std::string::npos) << all;
  EXPECT_NE(all.find("encryption.recipient_public_keys[1]: must be the base64"), std::string::npos)
      << all;
  EXPECT_NE(all.find("encryption.recipient_public_keys[2]: expected a string"), std::string::npos)
      << all;
}

TEST_F(ConfigTest, RecipientKeysAloneAreEnoughForSealedBox) {
  const std::string k2 = eca::generate_key_pair().public_key_b64;
  std::string text = header();
  text.replace(text.find("recipient_public_key = "),
               std::string("recipient_public_key = \"" + kKey + "\"").size(),
               "recipient_public_keys = [\"" + k2 + "\"]");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_EQ(c.encryption.recipient_public_keys, std::vector<std::string>{k2});
  // An empty list with no single key is not a recipient.
  text.replace(text.find("recipient_public_keys = [\"" + k2 + "\"]"),
               std::string("recipient_public_keys = [\"" + k2 + "\"]").size(),
               "recipient_public_keys = []");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  auto r = load();
  ASSERT_FALSE(r.config);
  EXPECT_NE(errors_of(r).find("must list at least one public key"), std::string::npos)
      << errors_of(r);
}

TEST_F(ConfigTest, EncryptionNoneNeedsNoKeyAndWarns) {
  std::string text = header();
  text.replace(text.find("recipient_public_key"),
               std::string("recipient_public_key = \"" + kKey + "\"").size(), "mode = \"none\"");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_EQ(c.encryption.mode, eca::EncryptionMode::None);
  EXPECT_TRUE(contains(c.warnings, "encryption.mode"));
}

// The [infisical.auth] of header() with `auth` instead.
std::string with_infisical_auth(const std::string& auth) {
  std::string text = header();
  const auto from = text.find("[infisical.auth]\n");
  const auto to = text.find("[encryption]");
  return text.replace(from, to - from, "[infisical.auth]\n" + auth);
}

TEST_F(ConfigTest, CloudIdentityNeedsOnlyTheIdentityId) {
  write("agent.toml", with_infisical_auth("method = \"aws-iam\"\nidentity_id = \"1f2e-3d4c\"\n"
                                          "region = \"eu-west-1\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_EQ(c.infisical.auth_method, "aws-iam");
  EXPECT_EQ(c.infisical.identity_id, "1f2e-3d4c");
  EXPECT_EQ(c.infisical.region, "eu-west-1");
  EXPECT_TRUE(c.infisical.client_secret.empty());
}

TEST_F(ConfigTest, InfisicalRouteNamesAreAcceptedAsMethodNames) {
  write("agent.toml", with_infisical_auth("method = \"azure-auth\"\nidentity_id = \"abc\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_EQ(valid(load()).infisical.auth_method, "azure");
}

TEST_F(ConfigTest, CloudIdentityRefusesASecretAndMissingIdentityId) {
  write("agent.toml", with_infisical_auth("method = \"gcp-id-token\"\nclient_secret = \"x\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  auto r = load();
  expect_error(r, "infisical.auth.client_secret: not used with method = \"gcp-id-token\"");
  expect_error(r, "infisical.auth.identity_id: required key is missing");
}

TEST_F(ConfigTest, SettingsOfAnotherMethodAreErrors) {
  write("agent.toml", with_infisical_auth("method = \"kubernetes\"\nidentity_id = \"abc\"\n"
                                          "region = \"eu-west-1\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.auth.region: only used with method = \"aws-iam\"");
  write("agent.toml",
        with_infisical_auth("client_id = \"id\"\nclient_secret = \"x\"\nidentity_id = \"abc\"\n") +
            rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.auth.identity_id: only used by a cloud identity method");
}

TEST_F(ConfigTest, OidcNeedsAReadableTokenFile) {
  write("agent.toml", with_infisical_auth("method = \"oidc\"\nidentity_id = \"abc\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.auth.token_file: required key is missing");
  write("agent.toml", with_infisical_auth("method = \"oidc\"\nidentity_id = \"abc\"\n"
                                          "token_file = \"absent.jwt\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.auth.token_file: cannot access");
}

TEST_F(ConfigTest, UnsupportedMethodsSayWhatIsSupported) {
  write("agent.toml", with_infisical_auth("method = \"gcp-iam\"\nidentity_id = \"abc\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "GCP logins use \"gcp-id-token\"");
  write("agent.toml", with_infisical_auth("method = \"ldap-auth\"\n") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(),
               "infisical.auth.method: unknown or unsupported method \"ldap-auth\"; supported:");
}

TEST_F(ConfigTest, TimezoneUsesInjectedTzdir) {
  write("zones/Test/Zone", "TZif");
  g_env["TZDIR"] = (dir_ / "zones").string();
  write("agent.toml", "[agent]\ntimezone = \"Test/Zone\"\n" + header() +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_EQ(valid(load()).agent.timezone, "Test/Zone");
  write("agent.toml", "[agent]\ntimezone = \"Europe/Paris\"\n" + header() +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "agent.timezone: unknown timezone \"Europe/Paris\"");
  write("agent.toml",
        "[agent]\ntimezone = \"UTC\"\n" + header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_EQ(valid(load()).agent.timezone, "UTC");
}

TEST_F(ConfigTest, CaFileMustBeReadableRegularFile) {
  write("ca.pem", "pem");
  std::string text = header();
  text.replace(text.find("environment"), 0, "ca_file = \"ca.pem\"\n");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_EQ(valid(load()).infisical.ca_file, (dir_ / "ca.pem").string());
  fs::create_directories(dir_ / "cadir");
  text.replace(text.find("\"ca.pem\""), 8, "\"cadir\"");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(),
               "infisical.ca_file: " + (dir_ / "cadir").string() + " is not a regular file");
}

TEST_F(ConfigTest, CaDirMustBeAnExistingDirectory) {
  fs::create_directories(dir_ / "certs");
  std::string text = header();
  text.replace(text.find("environment"), 0, "ca_dir = \"certs\"\n");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_EQ(valid(load()).infisical.ca_dir, (dir_ / "certs").string());
  text.replace(text.find("\"certs\""), 7, "\"nowhere\"");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.ca_dir: cannot access " + (dir_ / "nowhere").string());
  write("ca.pem", "pem");
  text.replace(text.find("\"nowhere\""), 9, "\"ca.pem\"");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.ca_dir: " + (dir_ / "ca.pem").string() + " is not a directory");
}

TEST_F(ConfigTest, InsecureSkipVerifyOnlyForLoopbackWithOneWarning) {
  std::string text = header();
  text.replace(text.find("environment"), 0, "insecure_skip_verify = true\n");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(
      load(),
      "agent.toml:4: infisical.insecure_skip_verify: true is only allowed when the service's "
      "address is loopback (127.0.0.0/8, localhost, ::1); to trust a private CA set ca_file or "
      "ca_dir");

  for (const char* url : {"https://127.0.0.1:8443", "https://localhost", "https://[::1]:9443"}) {
    std::string local = text;
    local.replace(local.find("https://infisical.example.com"), 29, url);
    write("agent.toml", local + rotation("a", "0xIKj0000004AAAKAE", "/a"));
    const auto& c = valid(load());
    EXPECT_TRUE(c.infisical.insecure_skip_verify) << url;
    auto n = std::count_if(c.warnings.begin(), c.warnings.end(), [](const std::string& w) {
      return w.find("TLS certificate verification is off") != std::string::npos;
    });
    EXPECT_EQ(n, 1) << url;
    EXPECT_FALSE(c.connections.at("acme").insecure_skip_verify);
  }

  // false is always fine, and says nothing.
  text.replace(text.find("insecure_skip_verify = true"), 27, "insecure_skip_verify = false");
  write("agent.toml", text + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_FALSE(c.infisical.insecure_skip_verify);
  EXPECT_FALSE(contains(c.warnings, "verification is off"));
}

TEST_F(ConfigTest, ProxyErrorsNeverRepeatTheProxyPassword) {
  g_env["PROXY_PW"] = "proxy-SECRET-pw-31";
  write("agent.toml", "[agent]\nproxy = \"http://agent:${PROXY_PW}@proxy.example.com:99999\"\n" +
                          header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  auto r = load();
  expect_error(r, "agent.toml:2: agent.proxy: has an invalid port");
  EXPECT_EQ(errors_of(r).find("proxy-SECRET-pw-31"), std::string::npos) << errors_of(r);
  write("agent.toml",
        "[agent]\nproxy = \"http://agent:${PROXY_PW}@proxy.example.com:3128\"\nno_proxy = "
        "\"localhost,.example.com\"\n" +
            header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& c = valid(load());
  EXPECT_EQ(c.agent.proxy, "http://agent:proxy-SECRET-pw-31@proxy.example.com:3128");
  EXPECT_EQ(c.agent.no_proxy, "localhost,.example.com");
  for (const auto& w : c.warnings) EXPECT_EQ(w.find("proxy-SECRET-pw-31"), std::string::npos) << w;
}

TEST_F(ConfigTest, SameAppAndConsumerConflicts) {
  // Same app, one with the 18-char id and one with its 15-char prefix: same target.
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a") +
                          rotation("b", "0xIKj0000004AAA", "/b"));
  expect_error(load(),
               "rotation[1].app_id: rotation \"b\" targets the same app on connection \"acme\" as "
               "rotation \"a\"");
  // Different consumers of the same app are fine.
  write("agent.toml",
        header() +
            rotation("a", "0xIKj0000004AAAKAE", "/a", "consumer_id = \"888Kj0000000001AAA\"\n") +
            rotation("b", "0xIKj0000004AAAKAE", "/b", "consumer_id = \"888Kj0000000002AAA\"\n"));
  EXPECT_TRUE(valid(load()).warnings.empty());
  // Same consumer given twice: conflict.
  write("agent.toml",
        header() +
            rotation("a", "0xIKj0000004AAAKAE", "/a", "consumer_id = \"888Kj0000000001AAA\"\n") +
            rotation("b", "0xIKj0000004AAAKAE", "/b", "consumer_id = \"888Kj0000000001\"\n"));
  expect_error(load(), "targets the same app and consumer");
  // One with, one without consumer_id: may be the same consumer, a warning.
  write("agent.toml",
        header() + rotation("a", "0xIKj0000004AAAKAE", "/a") +
            rotation("b", "0xIKj0000004AAAKAE", "/b", "consumer_id = \"888Kj0000000002AAA\"\n"));
  EXPECT_TRUE(contains(valid(load()).warnings, "both may rotate the same consumer"));
}

TEST_F(ConfigTest, SecretMappingConflictsAcrossNames) {
  // b's key secret is a's secret secret at the same path.
  write("agent.toml",
        header() + rotation("a", "0xIKj0000004AAAKAE", "/x") +
            rotation("b", "0xIKj0000004BBBKAE", "/x",
                     "consumer_key_secret = \"SALESFORCE_CONSUMER_SECRET\"\nconsumer_secret_secret "
                     "= \"OTHER\"\n"));
  expect_error(load(), "secret /x/SALESFORCE_CONSUMER_SECRET is already written by rotation \"a\"");
  // Same names under different paths are fine.
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/x") +
                          rotation("b", "0xIKj0000004BBBKAE", "/y"));
  valid(load());
}

TEST_F(ConfigTest, WarningsForUnusedConnectionNoRotationsAndAppIdPrefix) {
  write("agent.toml", header());
  auto r = load();
  const auto& c = valid(r);
  EXPECT_TRUE(contains(c.warnings, "no [[rotation]] entries"))
      << ::testing::PrintToString(c.warnings);
  EXPECT_TRUE(contains(c.warnings, "connections.acme: connection is not used by any rotation"));
  write("agent.toml", header() + rotation("a", "888Kj0000004AAAKAE", "/a"));
  EXPECT_TRUE(contains(valid(load()).warnings, "rotation[0].app_id: does not start with \"0xI\""));
}

TEST_F(ConfigTest, UnknownKeysEverywhere) {
  std::string text = header();
  text.replace(text.find("client_id = \"3MVGacme\""), 0, "clientid = \"x\"\n");
  write("agent.toml",
        "top = 1\n" + text + rotation("a", "0xIKj0000004AAAKAE", "/a", "adopted = true\n"));
  auto r = load();
  expect_error(r, ":1: top: unknown key");
  expect_error(r, "connections.acme.clientid: unknown key (did you mean \"client_id\"?)");
  expect_error(r, "rotation[0].adopted: unknown key (did you mean \"adopt\"?)");
}

TEST_F(ConfigTest, ProcessEnvReadsTheEnvironment) {
  ::setenv("ECA_CONFIG_TEST_VAR", "hello", 1);
  EXPECT_EQ(eca::process_env("ECA_CONFIG_TEST_VAR"), std::optional<std::string>("hello"));
  ::unsetenv("ECA_CONFIG_TEST_VAR");
  EXPECT_EQ(eca::process_env("ECA_CONFIG_TEST_VAR"), std::nullopt);
}

TEST_F(ConfigTest, ErrorToString) {
  eca::ConfigError e{"/etc/eca-rotator/agent.toml", 12, "rotation[2].interval_days",
                     "must be >= 1"};
  EXPECT_EQ(e.to_string(),
            "/etc/eca-rotator/agent.toml:12: rotation[2].interval_days: must be >= 1");
  e.line = 0;
  EXPECT_EQ(e.to_string(), "/etc/eca-rotator/agent.toml: rotation[2].interval_days: must be >= 1");
  eca::ConfigError s{"a.toml", 3, "", "expected value"};
  s.column = 7;
  EXPECT_EQ(s.to_string(), "a.toml:3:7: expected value");
}

// Speed is measured by the benchmark, not asserted here; this checks that a fleet-sized
// config (unique names, apps and paths) loads without tripping the duplicate checks.
TEST_F(ConfigTest, ThousandRotationsLoad) {
  std::string text = header();
  for (int i = 0; i < 1000; ++i) {
    std::string digits = std::to_string(i);
    std::string app = "0xIKj000" + std::string(7 - digits.size(), '0') + digits + "KAE";
    text += rotation("rotation-" + std::to_string(i), app, "/apps/r" + std::to_string(i),
                     "interval_days = 14\nrotate_at = \"03:00\"\n");
  }
  write("agent.toml", text);
  auto r = load();
  const auto& c = valid(r);
  EXPECT_EQ(c.rotations.size(), 1000u);
  EXPECT_NE(c.find_rotation("rotation-999"), nullptr);
}

}  // namespace

namespace {

// header() with `[infisical]` changed: another url and/or a rate_limits line.
std::string infisical_with(const std::string& url, const std::string& rate_limits_line) {
  std::string h = header();
  const std::string old_url = "https://infisical.example.com";
  h.replace(h.find(old_url), old_url.size(), url);
  const std::string env = "environment = \"prod\"\n";
  h.insert(h.find(env) + env.size(), rate_limits_line.empty() ? "" : rate_limits_line + "\n");
  return h;
}

}  // namespace

TEST_F(ConfigTest, InfisicalCloudHostsGetTheCloudLimitsSelfHostedNone) {
  write("agent.toml",
        infisical_with("https://eu.infisical.com", "") + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& cloud = valid(load()).infisical.rate_limits;
  EXPECT_EQ(cloud.global, 600);
  EXPECT_EQ(cloud.read, 200);
  EXPECT_EQ(cloud.write, 90);
  EXPECT_EQ(cloud.secret, 120);
  write("agent.toml", header() + rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_FALSE(valid(load()).infisical.rate_limits.any());
  // Not fooled by a look-alike host.
  write("agent.toml", infisical_with("https://app.infisical.com.example.net", "") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_FALSE(valid(load()).infisical.rate_limits.any());
}

TEST_F(ConfigTest, RateLimitsTakeAPresetOrNumbersPerCategory) {
  write("agent.toml", infisical_with("https://app.infisical.com", "rate_limits = \"none\"") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_FALSE(valid(load()).infisical.rate_limits.any());
  write("agent.toml",
        infisical_with("https://infisical.example.com", "rate_limits = \"infisical-cloud\"") +
            rotation("a", "0xIKj0000004AAAKAE", "/a"));
  EXPECT_EQ(valid(load()).infisical.rate_limits.write, 90);
  write("agent.toml", infisical_with("https://app.infisical.com",
                                     "rate_limits = { global = 1000, secret = 300 }") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  const auto& mine = valid(load()).infisical.rate_limits;
  EXPECT_EQ(mine.global, 1000);
  EXPECT_EQ(mine.secret, 300);
  EXPECT_EQ(mine.read, 0);  // not given: no limit
  EXPECT_EQ(mine.write, 0);
}

TEST_F(ConfigTest, BadRateLimitsNameTheKey) {
  write("agent.toml", infisical_with("https://app.infisical.com", "rate_limits = \"cloud\"") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.rate_limits");
  write("agent.toml", infisical_with("https://app.infisical.com", "rate_limits = { writes = 5 }") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.rate_limits.writes: unknown key (did you mean \"write\"?)");
  write("agent.toml", infisical_with("https://app.infisical.com", "rate_limits = { read = -1 }") +
                          rotation("a", "0xIKj0000004AAAKAE", "/a"));
  expect_error(load(), "infisical.rate_limits.read: must be between 0 and 1000000");
}

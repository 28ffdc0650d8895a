// Data-driven tests of the configuration loader:
//  - tests/data/bad-configs/NAME.expect: every line is a substring that some error
//    of the config must contain. The config is NAME.toml, or NAME/agent.toml (with
//    its own conf.d/) for drop-in cases.
//  - tests/data/good-configs/: valid configs, asserted field by field.
//  - agent.toml.example: the shipped example validates.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/config.h"

namespace fs = std::filesystem;

namespace {

const fs::path kBad = fs::path(ECA_TEST_DATA_DIR) / "bad-configs";
const fs::path kGood = fs::path(ECA_TEST_DATA_DIR) / "good-configs";
const std::string kPublicKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

// Secret values used by the test data: no error or warning may ever contain one.
const std::vector<std::string> kSecretValues = {
    "inline-SECRET-value-abc123",   "env-SECRET-sf-value-888", "SECRET-value-def456",
    "good-inline-infisical-secret", "good-inline-sf-secret",   "env-SECRET-infisical-777",
    "file-SECRET-content-42",       "proxy-SECRET-pw-555"};

std::map<std::string, std::string>& fake_env() {
  static std::map<std::string, std::string> env;
  return env;
}

std::optional<std::string> lookup(const std::string& name) {
  auto it = fake_env().find(name);
  if (it == fake_env().end()) return std::nullopt;
  return it->second;
}

void reset_env(std::map<std::string, std::string> values) {
  fake_env() = std::move(values);
}

std::map<std::string, std::string> bad_config_env() {
  return {{"INFISICAL_CLIENT_ID", "identity-1234"},
          {"TEST_SF_SECRET", "env-SECRET-sf-value-888"},
          {"SECRET_PART", "SECRET"}};
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::vector<std::string> bad_cases() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kBad))
    if (e.path().extension() == ".expect") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string all_errors(const eca::ConfigLoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e.to_string() + "\n";
  return s;
}

class ConfigBadFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ConfigBadFile, FailsWithExpectedMessage) {
  const std::string name = GetParam();
  fs::path file = kBad / (name + ".toml");
  if (!fs::exists(file)) file = kBad / name / "agent.toml";
  ASSERT_TRUE(fs::exists(file)) << file;

  std::vector<std::string> expected;
  std::istringstream lines(read_text(kBad / (name + ".expect")));
  for (std::string line; std::getline(lines, line);)
    if (!trim(line).empty()) expected.push_back(trim(line));
  ASSERT_FALSE(expected.empty()) << name << ".expect is empty";

  reset_env(bad_config_env());
  auto result = eca::load_config(file, lookup);
  EXPECT_FALSE(result.config.has_value());
  ASSERT_FALSE(result.errors.empty());
  const std::string text = all_errors(result);
  for (const auto& want : expected) {
    bool found = std::any_of(
        result.errors.begin(), result.errors.end(),
        [&](const eca::ConfigError& e) { return e.to_string().find(want) != std::string::npos; });
    EXPECT_TRUE(found) << "expected an error containing:\n  " << want << "\ngot:\n" << text;
  }
  for (const auto& secret : kSecretValues) EXPECT_EQ(text.find(secret), std::string::npos) << text;
}

INSTANTIATE_TEST_SUITE_P(ConfigData, ConfigBadFile, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// What the bad cases cover, not how many files there are: every section of the config has
// a case failing because of it, drop-ins and syntax errors are located in their own file,
// and every error a user sees names the file, and a line when one is at fault.
TEST(ConfigBadFiles, CasesCoverEverySectionAndEveryErrorIsLocated) {
  std::set<std::string> sections;  // first part of each error's key ("rotation[2].x" -> "rotation")
  bool dropin_located = false, syntax_located = false, env_expansion = false;
  for (const auto& name : bad_cases()) {
    fs::path file = kBad / (name + ".toml");
    if (!fs::exists(file)) file = kBad / name / "agent.toml";
    reset_env(bad_config_env());
    auto result = eca::load_config(file, lookup);
    for (const auto& e : result.errors) {
      EXPECT_FALSE(e.file.empty()) << name << ": " << e.to_string();
      if (!e.key.empty()) sections.insert(e.key.substr(0, e.key.find_first_of(".[")));
      if (e.file.find("/conf.d/") != std::string::npos && e.line > 0) dropin_located = true;
      if (e.column > 0 && e.line > 0) syntax_located = true;
      if (e.message.find("environment variable") != std::string::npos) env_expansion = true;
    }
  }
  for (const char* section : {"agent", "infisical", "encryption", "connections", "rotation"}) {
    EXPECT_EQ(sections.count(section), 1u) << "no bad config fails because of [" << section << "]";
  }
  EXPECT_TRUE(dropin_located) << "no case locates an error inside a conf.d drop-in";
  EXPECT_TRUE(syntax_located) << "no case locates a TOML syntax error by line and column";
  EXPECT_TRUE(env_expansion) << "no case covers ${VAR} expansion";
}

// Fails with a readable dump when the config is not valid.
const eca::Config& require_valid(const eca::ConfigLoadResult& r) {
  EXPECT_TRUE(r.config.has_value()) << all_errors(r);
  if (!r.config) throw std::runtime_error("invalid config:\n" + all_errors(r));
  return *r.config;
}

TEST(ConfigGoodFiles, MinimalTakesDefaults) {
  reset_env({});
  auto r = eca::load_config(kGood / "minimal.toml", lookup);
  const auto& c = require_valid(r);
  EXPECT_EQ(c.main_file, kGood / "minimal.toml");
  ASSERT_EQ(c.files.size(), 1u);
  EXPECT_EQ(c.agent.state_dir, fs::path("/var/lib/eca-rotator"));
  EXPECT_EQ(c.agent.concurrency, 4);
  EXPECT_EQ(c.agent.log_format, eca::LogFormat::Text);
  EXPECT_EQ(c.agent.timezone, "local");
  EXPECT_EQ(c.agent.stale_staged_minutes, 60);
  EXPECT_EQ(c.agent.splay_minutes, 0);
  for (const auto& rot : c.rotations) EXPECT_EQ(rot.splay, std::chrono::seconds(0));
  EXPECT_EQ(c.infisical.url, "https://infisical.example.com");  // trailing slash stripped
  EXPECT_EQ(c.infisical.project_id, "6f1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(c.infisical.environment, "dev");
  EXPECT_EQ(c.infisical.ca_file, "");
  EXPECT_EQ(c.infisical.auth_method, "universal-auth");
  EXPECT_EQ(c.infisical.client_id, "id-123");
  EXPECT_TRUE(c.infisical.client_secret.equals("good-inline-infisical-secret"));
  EXPECT_EQ(c.encryption.mode, eca::EncryptionMode::SealedBox);
  EXPECT_EQ(c.encryption.recipient_public_keys, std::vector<std::string>{kPublicKey});
  ASSERT_EQ(c.connections.size(), 1u);
  const auto& acme = c.connections.at("acme");
  EXPECT_EQ(acme.name, "acme");
  EXPECT_EQ(acme.my_domain_url,
            "https://acme.my.salesforce.com");  // host lowercased, slash stripped
  EXPECT_EQ(acme.api_version, "v65.0");
  EXPECT_EQ(acme.client_id, "3MVGkey");
  EXPECT_TRUE(acme.client_secret.equals("good-inline-sf-secret"));
  EXPECT_EQ(acme.ca_file, "");
  EXPECT_EQ(acme.ca_dir, "");
  EXPECT_EQ(acme.pinned_public_key, "");
  EXPECT_FALSE(acme.insecure_skip_verify);
  EXPECT_EQ(c.agent.proxy, "");
  EXPECT_EQ(c.agent.no_proxy, "");
  EXPECT_FALSE(c.infisical.insecure_skip_verify);
  ASSERT_EQ(c.rotations.size(), 1u);
  const auto& r0 = c.rotations[0];
  EXPECT_EQ(r0.name, "billing");
  EXPECT_EQ(r0.description, "");
  EXPECT_EQ(r0.connection, "acme");
  EXPECT_EQ(r0.app_id, "0xIKj0000004CwxKAE");
  EXPECT_EQ(r0.consumer_id, "");
  EXPECT_EQ(r0.interval_days, 30);
  EXPECT_EQ(r0.rotate_at.text(), "00:00");
  EXPECT_TRUE(r0.auto_rotation);
  EXPECT_EQ(r0.secret_path, "/");
  EXPECT_EQ(r0.consumer_key_secret, "SALESFORCE_CONSUMER_KEY");
  EXPECT_EQ(r0.consumer_secret_secret, "SALESFORCE_CONSUMER_SECRET");
  EXPECT_FALSE(r0.adopt);
  EXPECT_EQ(r0.source, (kGood / "minimal.toml").string() + ":19");
  EXPECT_EQ(c.find_rotation("billing"), &c.rotations[0]);
  EXPECT_EQ(c.find_rotation("nope"), nullptr);
}

TEST(ConfigGoodFiles, FullSetsEveryKey) {
  reset_env({{"FULL_INFISICAL_SECRET", "env-SECRET-infisical-777"},
             {"FULL_SF_SECRET", "env-SECRET-sf-value-888"},
             {"FULL_PROXY_PASSWORD", "proxy-SECRET-pw-555"}});
  auto r = eca::load_config(kGood / "full.toml", lookup);
  const auto& c = require_valid(r);
  EXPECT_EQ(c.agent.state_dir, kGood / "state");
  EXPECT_EQ(c.agent.concurrency, 16);
  EXPECT_EQ(c.agent.log_format, eca::LogFormat::Json);
  EXPECT_EQ(c.agent.timezone, "Europe/Paris");
  EXPECT_EQ(c.agent.stale_staged_minutes, 15);
  EXPECT_EQ(c.agent.splay_minutes, 45);
  EXPECT_EQ(c.agent.proxy, "http://proxy-user:proxy-SECRET-pw-555@proxy.example.com:3128");
  EXPECT_EQ(c.agent.no_proxy, "internal.example.com,.corp.example.com");
  EXPECT_EQ(c.infisical.url, "http://127.0.0.1:8443/api");
  EXPECT_EQ(c.infisical.project_id, "proj-full");
  EXPECT_EQ(c.infisical.environment, "staging_eu-1");
  EXPECT_EQ(c.infisical.ca_file, (kGood / "ca.pem").string());
  EXPECT_EQ(c.infisical.ca_dir, (kGood / "certs").string());
  EXPECT_EQ(c.infisical.pinned_public_key, "sha256//3fG6Cavgn/NVfqdnP0ysPrH1DjUbB8ceLUsxkzz7rCk=");
  EXPECT_TRUE(c.infisical.insecure_skip_verify);
  EXPECT_EQ(c.infisical.client_id, "machine-identity-id");
  EXPECT_TRUE(c.infisical.client_secret.equals("env-SECRET-infisical-777"));
  EXPECT_EQ(c.encryption.mode, eca::EncryptionMode::None);
  EXPECT_EQ(c.encryption.recipient_public_keys, std::vector<std::string>{kPublicKey});

  ASSERT_EQ(c.connections.size(), 3u);
  const auto& acme = c.connections.at("acme");
  EXPECT_EQ(acme.api_version, "v66.0");
  EXPECT_EQ(acme.client_id, "3MVG9acme");
  EXPECT_TRUE(acme.client_secret.equals("env-SECRET-sf-value-888"));
  EXPECT_EQ(acme.ca_file, (kGood / "ca.pem").string());
  EXPECT_EQ(acme.ca_dir, (kGood / "certs").string());
  EXPECT_EQ(acme.pinned_public_key,
            "sha256//3fG6Cavgn/NVfqdnP0ysPrH1DjUbB8ceLUsxkzz7rCk=;sha256//"
            "tnodasw537c1h60OJoyoNyYhbmyMYCVu0kQgZl0v47I=");
  EXPECT_FALSE(acme.insecure_skip_verify);
  EXPECT_TRUE(c.connections.at("sandbox").insecure_skip_verify);
  EXPECT_EQ(c.connections.at("gov").my_domain_url, "https://agency.my.salesforce.mil");
  EXPECT_EQ(c.connections.at("sandbox").my_domain_url, "http://127.0.0.1:9000");

  ASSERT_EQ(c.rotations.size(), 3u);
  const auto& b = c.rotations[0];
  EXPECT_EQ(b.name, "billing-eca");
  EXPECT_EQ(b.description, "Billing integration");
  EXPECT_EQ(b.connection, "acme");
  EXPECT_EQ(b.app_id, "0xIKj0000004CwxKAE");
  EXPECT_EQ(b.consumer_id, "888Kj0000008ABCDEF");
  EXPECT_EQ(b.interval_days, 14);
  EXPECT_EQ(b.rotate_at.text(), "03:30");
  EXPECT_FALSE(b.auto_rotation);
  EXPECT_EQ(b.secret_path, "/salesforce/billing");
  EXPECT_EQ(b.consumer_key_secret, "SF_KEY");
  EXPECT_EQ(b.consumer_secret_secret, "SF_SECRET");
  EXPECT_TRUE(b.adopt);
  EXPECT_EQ(c.rotations[1].interval_days, 365);
  EXPECT_EQ(c.rotations[1].rotate_at.text(), "23:59");
  EXPECT_EQ(c.rotations[2].name, "0-sandbox");
  EXPECT_EQ(c.rotations[2].secret_path, "/");
  for (const auto& rot : c.rotations) {
    EXPECT_EQ(rot.splay, eca::splay_offset(rot.name, 45)) << rot.name;
    EXPECT_LT(rot.splay, std::chrono::minutes(45)) << rot.name;
  }

  // Warnings: encryption none, a non-my.salesforce.com host, an app id without 0xI.
  auto has_warning = [&](const std::string& needle) {
    return std::any_of(c.warnings.begin(), c.warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has_warning("encryption.mode")) << ::testing::PrintToString(c.warnings);
  EXPECT_TRUE(
      has_warning("full.toml:40: connections.gov.my_domain_url: host agency.my.salesforce.mil"))
      << ::testing::PrintToString(c.warnings);
  EXPECT_TRUE(has_warning("rotation[2].app_id: does not start with \"0xI\""))
      << ::testing::PrintToString(c.warnings);
  EXPECT_FALSE(has_warning("connections.sandbox.my_domain_url"));  // loopback: no warning
  EXPECT_TRUE(has_warning(
      "full.toml:19: infisical.insecure_skip_verify: TLS certificate verification is off for "
      "http://127.0.0.1:8443/api"))
      << ::testing::PrintToString(c.warnings);
  EXPECT_TRUE(
      has_warning("connections.sandbox.insecure_skip_verify: TLS certificate verification is off"))
      << ::testing::PrintToString(c.warnings);
  for (const auto& w : c.warnings)
    for (const auto& secret : kSecretValues) EXPECT_EQ(w.find(secret), std::string::npos) << w;
}

TEST(ConfigGoodFiles, DropInsMergeInLexicalOrder) {
  reset_env({});
  const fs::path main = kGood / "dropins" / "agent.toml";
  auto r = eca::load_config(main, lookup);
  const auto& c = require_valid(r);
  ASSERT_EQ(c.files.size(), 3u);  // .hidden.toml and notes.txt are not read
  EXPECT_EQ(c.files[0], main);
  EXPECT_EQ(c.files[1].filename(), "10-team-a.toml");
  EXPECT_EQ(c.files[2].filename(), "20-team-b.toml");
  EXPECT_EQ(c.agent.concurrency, 12);  // last scalar wins
  EXPECT_EQ(c.agent.log_format, eca::LogFormat::Json);
  ASSERT_EQ(c.connections.size(), 2u);
  const auto& acme = c.connections.at("acme");
  EXPECT_EQ(acme.api_version, "v66.0");  // table merged key by key
  EXPECT_EQ(acme.client_id, "3MVGmain");
  EXPECT_EQ(acme.my_domain_url, "https://acme.my.salesforce.com");
  EXPECT_EQ(c.connections.at("beta").client_id, "3MVGbeta");
  ASSERT_EQ(c.rotations.size(), 4u);  // rotations append
  EXPECT_EQ(c.rotations[0].name, "main-rotation");
  EXPECT_EQ(c.rotations[1].name, "team-a");
  EXPECT_EQ(c.rotations[2].name, "team-b-one");
  EXPECT_EQ(c.rotations[3].name, "team-b-two");
  EXPECT_EQ(c.rotations[1].source, (kGood / "dropins/conf.d/10-team-a.toml").string() + ":8");
  EXPECT_EQ(c.rotations[3].secret_path, "/team-b");
  EXPECT_EQ(c.rotations[3].consumer_key_secret, "KEY_TWO");
}

TEST(ConfigGoodFiles, ExpansionInsideStringValues) {
  reset_env({{"INFISICAL_HOST", "secrets.example.org"},
             {"ENVIRONMENT", "staging"},
             {"INFISICAL_CLIENT_ID", "identity-9"},
             {"INFISICAL_CLIENT_SECRET", "env-SECRET-infisical-777"},
             {"PUBLIC_KEY", kPublicKey},
             {"SF_CLIENT_ID", "3MVGenv"},
             {"SF_SECRET_PART", "SECRET-value-def456"},
             {"EMPTY_VAR", ""},
             {"APP_PREFIX", "0xI"},
             {"INJECT", "x\"\n[agent]\nconcurrency = 99\n[[rotation]]\nname = \"evil\""}});
  auto r = eca::load_config(kGood / "expansion.toml", lookup);
  const auto& c = require_valid(r);
  EXPECT_EQ(c.infisical.url, "https://secrets.example.org");
  EXPECT_EQ(c.infisical.project_id, "default-project");  // ${PROJECT_ID:-...} with PROJECT_ID unset
  EXPECT_EQ(c.infisical.environment, "staging");
  EXPECT_EQ(c.infisical.client_id, "identity-9");
  EXPECT_TRUE(c.infisical.client_secret.equals("env-SECRET-infisical-777"));
  EXPECT_EQ(c.encryption.recipient_public_keys, std::vector<std::string>{kPublicKey});
  const auto& acme = c.connections.at("acme");
  EXPECT_EQ(acme.my_domain_url, "https://acme.my.salesforce.com");
  EXPECT_TRUE(acme.client_secret.equals("prefix-SECRET-value-def456-suffix"));
  ASSERT_EQ(c.rotations.size(), 2u);
  EXPECT_EQ(c.rotations[0].description, "costs $5, fallback for empty, |, $HOME stays");
  EXPECT_EQ(c.rotations[0].app_id, "0xIKj0000004CwxKAE");
  EXPECT_EQ(c.rotations[0].secret_path, "/teams/core");
  // The injected text stays a plain value: no structure changes.
  EXPECT_EQ(c.rotations[1].description,
            "x\"\n[agent]\nconcurrency = 99\n[[rotation]]\nname = \"evil\"");
  EXPECT_EQ(c.agent.concurrency, 4);
  EXPECT_EQ(c.find_rotation("evil"), nullptr);
}

// The shipped example validates: its *_file secrets are redirected to a temp dir.
TEST(ConfigExample, ShippedExampleValidates) {
  fs::path src = fs::path(ECA_SOURCE_DIR) / "agent.toml.example";
  std::string text = read_text(src);
  ASSERT_FALSE(text.empty());
  char tmpl[] = "/tmp/eca-config-example-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  fs::path dir(tmpl);
  const std::string prefix = "/etc/eca-rotator/";
  std::size_t replaced = 0;
  for (std::size_t pos; (pos = text.find(prefix)) != std::string::npos; ++replaced)
    text.replace(pos, prefix.size(), dir.string() + "/");
  EXPECT_GE(replaced, 2u);
  std::ofstream(dir / "agent.toml") << text;
  for (const char* name : {"infisical-client-secret", "sf-acme-client-secret"}) {
    std::ofstream(dir / name) << "file-SECRET-content-42\n";
    ::chmod((dir / name).c_str(), 0600);
  }
  ::chmod((dir / "agent.toml").c_str(), 0640);
  reset_env({{"INFISICAL_CLIENT_ID", "identity-1234"},
             {"SF_ACME_CLIENT_ID", "3MVG9example"},
             {"ECA_RECIPIENT_PUBLIC_KEY", kPublicKey}});
  auto r = eca::load_config(dir / "agent.toml", lookup);
  if (r.config) {
    EXPECT_EQ(r.config->rotations.size(), 2u);
    EXPECT_EQ(r.config->connections.size(), 1u);
    EXPECT_TRUE(r.config->infisical.client_secret.equals("file-SECRET-content-42"));
    EXPECT_TRUE(r.config->connections.at("acme").client_secret.equals("file-SECRET-content-42"));
    EXPECT_TRUE(r.config->warnings.empty()) << ::testing::PrintToString(r.config->warnings);
  }
  EXPECT_TRUE(r.errors.empty()) << all_errors(r);

  // Without the public key variable it fails with the example's own message.
  reset_env({{"INFISICAL_CLIENT_ID", "identity-1234"}, {"SF_ACME_CLIENT_ID", "3MVG9example"}});
  auto missing = eca::load_config(dir / "agent.toml", lookup);
  EXPECT_FALSE(missing.config.has_value());
  EXPECT_NE(all_errors(missing).find("eca-rotator keygen"), std::string::npos)
      << all_errors(missing);
  fs::remove_all(dir);
}

}  // namespace

// [connections.NAME] auth = "jwt_bearer": the keys it needs, the key file's rules, and the
// errors for a section half-switched between the two methods.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "agent/config.h"
#include "agent/login_summary.h"
#include "crypto/rsa_signer.h"

namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> g_env;
std::optional<std::string> lookup(const std::string& name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? std::nullopt : std::optional<std::string>(it->second);
}

const eca::Secret& rsa_key(int bits = 2048) {
  static std::map<int, eca::Secret> keys;
  auto it = keys.find(bits);
  if (it == keys.end()) it = keys.emplace(bits, eca::generate_rsa_private_key_pem(bits)).first;
  return it->second;
}

class ConfigJwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eca-config-jwt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    g_env.clear();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& rel, std::string_view text, mode_t mode = 0600) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
  }
  // A whole config whose connection section is `connection` (after my_domain_url, client_id).
  eca::ConfigLoadResult load(const std::string& connection) {
    write("agent.toml",
          "[infisical]\nurl = \"https://infisical.example.com\"\nproject_id = \"p\"\n"
          "environment = \"prod\"\n[infisical.auth]\nclient_id = \"id\"\nclient_secret = \"s\"\n"
          "[encryption]\nrecipient_public_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n"
          "[connections.acme]\nmy_domain_url = \"https://acme.my.salesforce.com\"\n"
          "client_id = \"3MVGacme\"\n" +
              connection +
              "[[rotation]]\nname = \"a\"\nconnection = \"acme\"\napp_id = \"0xIKj0000004AAAKAE\"\n"
              "secret_path = \"/a\"\n");
    return eca::load_config(dir_ / "agent.toml", lookup);
  }
  std::string errors(const eca::ConfigLoadResult& r) {
    std::string s;
    for (const auto& e : r.errors) s += e.to_string() + "\n";
    EXPECT_EQ(s.find("PRIVATE KEY-----\n"), std::string::npos) << "no key material in errors";
    return s;
  }

  fs::path dir_;
};

const std::string kJwt = "auth = \"jwt_bearer\"\nusername = \"integration@acme.example\"\n";

TEST_F(ConfigJwtTest, JwtBearerNeedsNoConnectionSecret) {
  write("sf.key", rsa_key().view());
  auto r = load(kJwt + "private_key_file = \"sf.key\"\n");
  ASSERT_TRUE(r.config.has_value()) << errors(r);
  const auto& c = r.config->connections.at("acme");
  EXPECT_EQ(c.auth, eca::SfAuthMethod::JwtBearer);
  EXPECT_TRUE(c.client_secret.empty());
  // Read like every secret file: the trailing newline goes, the PEM still parses.
  std::string_view pem = rsa_key().view();
  pem.remove_suffix(1);
  EXPECT_TRUE(c.private_key_pem.equals(pem));
  EXPECT_EQ(eca::connection_login_summary(c),
            "JWT bearer as integration@acme.example, audience https://login.salesforce.com by "
            "host, My Domain on refusal (no connection secret on this VM)");
}

TEST_F(ConfigJwtTest, KeyComesFromTheSystemdCredentialWhenNoFileIsNamed) {
  write("creds/sf-acme-private-key", rsa_key().view(), 0400);
  g_env["CREDENTIALS_DIRECTORY"] = (dir_ / "creds").string();
  auto r = load(kJwt + "audience = \"https://acme.my.salesforce.com\"\n");
  ASSERT_TRUE(r.config.has_value()) << errors(r);
  EXPECT_FALSE(r.config->connections.at("acme").private_key_pem.empty());
  EXPECT_EQ(r.config->connections.at("acme").audience, "https://acme.my.salesforce.com");
}

TEST_F(ConfigJwtTest, KeyFileReadableByOthersIsRefused) {
  write("sf.key", rsa_key().view(), 0644);
  auto r = load(kJwt + "private_key_file = \"sf.key\"\n");
  EXPECT_FALSE(r.config.has_value());
  EXPECT_NE(errors(r).find("connections.acme.private_key_file: key file"), std::string::npos)
      << errors(r);
  EXPECT_NE(errors(r).find("chmod o-r"), std::string::npos);
}

TEST_F(ConfigJwtTest, ShortKeyIsAConfigurationErrorAtTheKey) {
  write("sf.key", rsa_key(1024).view());
  auto r = load(kJwt + "private_key_file = \"sf.key\"\n");
  EXPECT_FALSE(r.config.has_value());
  EXPECT_NE(errors(r).find("private_key_file: the key file holds a 1024-bit RSA key"),
            std::string::npos)
      << errors(r);
}

TEST_F(ConfigJwtTest, MissingKeyNamesBothWaysToProvideIt) {
  auto r = load(kJwt);
  EXPECT_NE(errors(r).find("LoadCredential"), std::string::npos) << errors(r);
  EXPECT_NE(errors(r).find("sf-acme-private-key"), std::string::npos) << errors(r);
}

TEST_F(ConfigJwtTest, KeysOfTheOtherMethodAreErrors) {
  write("sf.key", rsa_key().view());
  auto r = load(kJwt + "private_key_file = \"sf.key\"\nclient_secret = \"left-over\"\n");
  EXPECT_NE(errors(r).find("client_secret: not used with auth = \"jwt_bearer\""), std::string::npos)
      << errors(r);
  auto r2 = load("client_secret = \"x\"\nusername = \"u@acme.example\"\n");
  EXPECT_NE(errors(r2).find("username: not used with auth = \"client_credentials\"; remove it "
                            "or set auth = \"jwt_bearer\""),
            std::string::npos)
      << errors(r2);
}

TEST_F(ConfigJwtTest, UsernameAudienceAndMethodAreChecked) {
  write("sf.key", rsa_key().view());
  auto r = load("auth = \"jwt\"\n");
  EXPECT_NE(errors(r).find("auth: must be"), std::string::npos) << errors(r);
  auto r2 = load(
      "auth = \"jwt_bearer\"\nusername = \"integration\"\nprivate_key_file = "
      "\"sf.key\"\naudience = \"login.salesforce.com\"\n");
  EXPECT_NE(errors(r2).find("username: must be a Salesforce username"), std::string::npos)
      << errors(r2);
  EXPECT_NE(errors(r2).find("audience: must be an https:// URL"), std::string::npos) << errors(r2);
}

TEST_F(ConfigJwtTest, ClientCredentialsStaysTheDefault) {
  auto r = load("client_secret = \"x\"\n");
  ASSERT_TRUE(r.config.has_value()) << errors(r);
  EXPECT_EQ(r.config->connections.at("acme").auth, eca::SfAuthMethod::ClientCredentials);
  EXPECT_EQ(eca::connection_login_summary(r.config->connections.at("acme")),
            "client credentials (consumer secret on this VM)");
}

}  // namespace

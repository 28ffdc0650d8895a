// Unit tests of the pure pieces of the configuration loader: ${VAR} expansion
// (agent/env_expand) and the value rules (agent/config_rules).
#include "agent/config_rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/env_expand.h"

namespace cr = eca::config_rules;

namespace {

std::optional<std::string> env(const std::string& name) {
  static const std::map<std::string, std::string> values = {{"HOST", "example.org"},
                                                            {"EMPTY", ""},
                                                            {"PORT", "8443"},
                                                            {"DOLLAR", "$${NOT_EXPANDED}"},
                                                            {"QUOTE", "a\"b\nc"}};
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::string expand(const std::string& in) {
  std::string out, error;
  EXPECT_TRUE(eca::expand_env(in, env, out, error)) << in << ": " << error;
  return out;
}

std::string expand_error(const std::string& in) {
  std::string out, error;
  EXPECT_FALSE(eca::expand_env(in, env, out, error)) << in << " expanded to " << out;
  EXPECT_TRUE(out.empty());
  return error;
}

TEST(ConfigExpand, PlainStringsAreUnchanged) {
  EXPECT_EQ(expand(""), "");
  EXPECT_EQ(expand("no references here"), "no references here");
  EXPECT_EQ(expand("price: $5, $HOME, $"), "price: $5, $HOME, $");
}

TEST(ConfigExpand, References) {
  EXPECT_EQ(expand("https://${HOST}:${PORT}/api"), "https://example.org:8443/api");
  EXPECT_EQ(expand("[${EMPTY}]"), "[]");  // set but empty is fine for ${VAR}
  EXPECT_EQ(expand("${HOST}${HOST}"), "example.orgexample.org");
}

TEST(ConfigExpand, DoubleDollarIsALiteralDollar) {
  EXPECT_EQ(expand("$$"), "$");
  EXPECT_EQ(expand("a$$b"), "a$b");
  EXPECT_EQ(expand("$${HOST}"), "${HOST}");
  EXPECT_EQ(expand("$$$${HOST}"), "$${HOST}");
  EXPECT_EQ(expand("$$${HOST}"), "$example.org");
}

TEST(ConfigExpand, Defaults) {
  EXPECT_EQ(expand("${UNSET:-fallback}"), "fallback");
  EXPECT_EQ(expand("${EMPTY:-fallback}"), "fallback");
  EXPECT_EQ(expand("${HOST:-fallback}"), "example.org");
  EXPECT_EQ(expand("${UNSET:-}"), "");
  EXPECT_EQ(expand("${UNSET:-a b:c-d}"), "a b:c-d");
  EXPECT_EQ(expand("${UNSET:-${HOST}}"), "example.org");  // nested default
  EXPECT_EQ(expand("${UNSET:-${ALSO_UNSET:-deep}}"), "deep");
  EXPECT_EQ(expand("${UNSET:-cost $$5}"), "cost $5");
}

TEST(ConfigExpand, ExpandedTextIsNotExpandedAgain) {
  EXPECT_EQ(expand("${DOLLAR}"), "$${NOT_EXPANDED}");
  EXPECT_EQ(expand("${QUOTE}"), "a\"b\nc");
}

TEST(ConfigExpand, Errors) {
  EXPECT_EQ(expand_error("x ${UNSET} y"),
            "environment variable UNSET is not set (use ${UNSET:-default} to give a default)");
  EXPECT_EQ(expand_error("${UNSET:?please set UNSET}"),
            "environment variable UNSET is not set: please set UNSET");
  EXPECT_EQ(expand_error("${EMPTY:?needed}"), "environment variable EMPTY is empty: needed");
  EXPECT_EQ(expand_error("${UNSET:?}"), "environment variable UNSET is not set");
  EXPECT_NE(expand_error("${HOST").find("unterminated"), std::string::npos);
  EXPECT_NE(expand_error("${UNSET:-abc").find("unterminated"), std::string::npos);
  EXPECT_NE(expand_error("${}").find("variable name"), std::string::npos);
  EXPECT_NE(expand_error("${1X}").find("variable name"), std::string::npos);
  EXPECT_NE(expand_error("${HOST-x}").find("expected '}'"), std::string::npos);
  EXPECT_NE(expand_error("${HOST?x}").find("expected '}'"), std::string::npos);
}

TEST(ConfigExpand, ErrorsNeverContainValues) {
  std::string out, error;
  EXPECT_FALSE(eca::expand_env("secret-${HOST}-value ${UNSET}", env, out, error));
  EXPECT_EQ(error.find("secret"), std::string::npos);
  EXPECT_EQ(error.find("example.org"), std::string::npos);
}

TEST(ConfigExpand, PureReferences) {
  EXPECT_TRUE(eca::is_pure_reference("${VAR}"));
  EXPECT_TRUE(eca::is_pure_reference("${VAR:?set it}"));
  EXPECT_FALSE(eca::is_pure_reference("${VAR:-literal}"));
  EXPECT_FALSE(eca::is_pure_reference("x${VAR}"));
  EXPECT_FALSE(eca::is_pure_reference("${A}${B}"));
  EXPECT_FALSE(eca::is_pure_reference("literal"));
  EXPECT_FALSE(eca::is_pure_reference("${VAR:?a}b}"));
}

TEST(ConfigRules, EditDistanceAndSuggestions) {
  EXPECT_EQ(cr::edit_distance("", ""), 0u);
  EXPECT_EQ(cr::edit_distance("abc", "abc"), 0u);
  EXPECT_EQ(cr::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(cr::edit_distance("concurency", "concurrency"), 1u);
  std::vector<std::string> keys = {"state_dir", "concurrency", "log_format", "timezone"};
  EXPECT_EQ(cr::suggest("concurency", keys), "concurrency");
  EXPECT_EQ(cr::suggest("log_fromat", keys), "log_format");
  EXPECT_EQ(cr::suggest("timezon", keys), "timezone");
  EXPECT_EQ(cr::suggest("flavour", keys), "");
  EXPECT_EQ(cr::suggest("x", {"y"}), "");  // a full replacement is no suggestion
}

TEST(ConfigRules, Slugs) {
  EXPECT_TRUE(cr::is_slug("billing"));
  EXPECT_TRUE(cr::is_slug("0-sandbox"));
  EXPECT_TRUE(cr::is_slug("a"));
  EXPECT_TRUE(cr::is_slug(std::string(63, 'a')));
  EXPECT_FALSE(cr::is_slug(std::string(64, 'a')));
  EXPECT_FALSE(cr::is_slug(""));
  EXPECT_FALSE(cr::is_slug("-billing"));
  EXPECT_FALSE(cr::is_slug("Billing"));
  EXPECT_FALSE(cr::is_slug("bill_ing"));
  EXPECT_FALSE(cr::is_slug("bill ing"));
}

TEST(ConfigRules, SalesforceIdsAndSecretNames) {
  EXPECT_TRUE(cr::is_salesforce_id("0xIKj0000004Cwx"));
  EXPECT_TRUE(cr::is_salesforce_id("0xIKj0000004CwxKAE"));
  EXPECT_FALSE(cr::is_salesforce_id("0xIKj0000004CwxK"));
  EXPECT_FALSE(cr::is_salesforce_id("0xIKj0000004Cw-KAE"));
  EXPECT_TRUE(cr::is_secret_name("SALESFORCE_CONSUMER_KEY"));
  EXPECT_TRUE(cr::is_secret_name("sf.key-1"));
  EXPECT_FALSE(cr::is_secret_name(""));
  EXPECT_FALSE(cr::is_secret_name("SF KEY"));
  EXPECT_FALSE(cr::is_secret_name("SF/KEY"));
}

TEST(ConfigRules, TimeOfDay) {
  EXPECT_TRUE(cr::is_time_of_day("00:00"));
  EXPECT_TRUE(cr::is_time_of_day("23:59"));
  EXPECT_FALSE(cr::is_time_of_day("24:00"));
  EXPECT_FALSE(cr::is_time_of_day("12:60"));
  EXPECT_FALSE(cr::is_time_of_day("3:00"));
  EXPECT_FALSE(cr::is_time_of_day("03:00:00"));
  EXPECT_FALSE(cr::is_time_of_day("03h00"));
}

TEST(ConfigRules, SecretPaths) {
  EXPECT_EQ(cr::check_secret_path("/"), "");
  EXPECT_EQ(cr::check_secret_path("/salesforce"), "");
  EXPECT_EQ(cr::check_secret_path("/salesforce/billing_v2-prod-1"), "");
  // The real server refuses a dot in any segment (400 on list, 500 on batch upsert).
  EXPECT_NE(cr::check_secret_path("/salesforce/billing_v2.prod-1"), "");
  EXPECT_NE(cr::check_secret_path("/dotted/app.v2"), "");
  EXPECT_NE(cr::check_secret_path("/.hidden"), "");
  EXPECT_NE(cr::check_secret_path(""), "");
  EXPECT_NE(cr::check_secret_path("salesforce"), "");
  EXPECT_NE(cr::check_secret_path("/salesforce/"), "");
  EXPECT_NE(cr::check_secret_path("/a//b"), "");
  EXPECT_NE(cr::check_secret_path("/a/../b"), "");
  EXPECT_NE(cr::check_secret_path("/.."), "");
  EXPECT_NE(cr::check_secret_path("/a/./b"), "");
  EXPECT_NE(cr::check_secret_path("/a b"), "");
  EXPECT_NE(cr::check_secret_path("/a\\b"), "");
}

TEST(ConfigRules, ApiVersions) {
  EXPECT_EQ(cr::check_api_version("v65.0"), "");
  EXPECT_EQ(cr::check_api_version("v66.0"), "");
  EXPECT_EQ(cr::check_api_version("v100.0"), "");
  EXPECT_NE(cr::check_api_version("v64.0"), "");
  EXPECT_NE(cr::check_api_version("65.0"), "");
  EXPECT_NE(cr::check_api_version("v65"), "");
  EXPECT_NE(cr::check_api_version("v65.10"), "");
  EXPECT_NE(cr::check_api_version("v.0"), "");
  EXPECT_NE(cr::check_api_version("vx5.0"), "");
}

TEST(ConfigRules, Timezones) {
  EXPECT_EQ(cr::check_timezone("local", "/nonexistent"), "");
  EXPECT_EQ(cr::check_timezone("UTC", "/nonexistent"), "");
  char tmpl[] = "/tmp/eca-tz-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::filesystem::path dir(tmpl);
  std::filesystem::create_directories(dir / "Test");
  std::ofstream(dir / "Test" / "Zone") << "TZif";
  EXPECT_EQ(cr::check_timezone("Test/Zone", dir.string()), "");
  EXPECT_NE(cr::check_timezone("Test/Nowhere", dir.string()), "");
  EXPECT_NE(cr::check_timezone("Test", dir.string()), "");  // a directory, not a zone
  EXPECT_NE(cr::check_timezone("../etc/passwd", dir.string()), "");
  EXPECT_NE(cr::check_timezone("/etc/localtime", dir.string()), "");
  EXPECT_NE(cr::check_timezone("", dir.string()), "");
  std::filesystem::remove_all(dir);
}

TEST(ConfigRules, PublicKeys) {
  EXPECT_EQ(cr::check_public_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), "");
  EXPECT_NE(cr::check_public_key(""), "");
  EXPECT_NE(cr::check_public_key("AAAA"), "");  // 3 bytes
  EXPECT_NE(cr::check_public_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ=="),
            "");                                                                       // 34 bytes
  EXPECT_NE(cr::check_public_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"), "");  // no padding
  EXPECT_NE(cr::check_public_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= "),
            "");  // trailing space
  EXPECT_NE(cr::check_public_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_="),
            "");  // url-safe alphabet
}

TEST(ConfigRules, PinnedPublicKeys) {
  const std::string a = "sha256//3fG6Cavgn/NVfqdnP0ysPrH1DjUbB8ceLUsxkzz7rCk=";
  const std::string b = "sha256//tnodasw537c1h60OJoyoNyYhbmyMYCVu0kQgZl0v47I=";
  EXPECT_EQ(cr::check_pinned_public_key(a), "");
  EXPECT_EQ(cr::check_pinned_public_key(a + ";" + b), "");
  EXPECT_NE(cr::check_pinned_public_key(""), "");
  EXPECT_NE(cr::check_pinned_public_key(a + ";"), "") << "an empty item";
  EXPECT_NE(cr::check_pinned_public_key(a + " ;" + b), "") << "no spaces";
  EXPECT_NE(cr::check_pinned_public_key("3fG6Cavgn/NVfqdnP0ysPrH1DjUbB8ceLUsxkzz7rCk="), "")
      << "no sha256// prefix";
  EXPECT_NE(cr::check_pinned_public_key("sha256//3fG6Cavgn/NVfqdnP0ysPrH1DjUbB8ceLUsxkzz7rCk"), "")
      << "unpadded";
  EXPECT_NE(cr::check_pinned_public_key("sha256//3fG6Cavgn_NVfqdnP0ysPrH1DjUbB8ceLUsxkzz7rCk="), "")
      << "url-safe";
  EXPECT_NE(cr::check_pinned_public_key("sha256//AAAA"), "");
  EXPECT_NE(cr::check_pinned_public_key("/etc/pki/server-key.pem"), "")
      << "curl's file form is not accepted";
  EXPECT_NE(cr::check_pinned_public_key(a + ";sha1//AAAA").find("item 2 is not"),
            std::string::npos);
}

TEST(ConfigRules, ProxyUrls) {
  for (const char* ok :
       {"http://proxy:3128", "http://proxy.example.com:3128/", "https://proxy.example.com",
        "socks5h://127.0.0.1:1080", "HTTP://Proxy:8080", "http://user:pa%40ss@proxy:3128",
        "http://[::1]:3128", "socks4a://p:1"})
    EXPECT_EQ(cr::check_proxy_url(ok), "") << ok;
  for (const char* bad : {"proxy:3128", "ftp://proxy:21", "http://", "http://:3128",
                          "http://proxy:0", "http://proxy:65536", "http://proxy:31a8",
                          "http://proxy:", "http://proxy/path", "http://[::1", "http://pro xy:1"})
    EXPECT_NE(cr::check_proxy_url(bad), "") << bad;
  const std::string why = cr::check_proxy_url("ftp://agent:hunter2-pw@proxy:21");
  EXPECT_EQ(why.find("hunter2-pw"), std::string::npos) << why;
}

TEST(ConfigRules, LoopbackHosts) {
  EXPECT_TRUE(cr::is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(cr::is_loopback_host("127.255.10.3"));
  EXPECT_TRUE(cr::is_loopback_host("localhost"));
  EXPECT_TRUE(cr::is_loopback_host("LOCALHOST"));
  EXPECT_TRUE(cr::is_loopback_host("::1"));
  EXPECT_TRUE(cr::is_loopback_host("[::1]"));
  EXPECT_FALSE(cr::is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(cr::is_loopback_host("127.0.0"));
  EXPECT_FALSE(cr::is_loopback_host("127.0.0.256"));
  EXPECT_FALSE(cr::is_loopback_host("127.0.0.1.example.com"));
  EXPECT_FALSE(cr::is_loopback_host("localhost.example.com"));
  EXPECT_FALSE(cr::is_loopback_host("::2"));
}

TEST(ConfigRules, UrlParsing) {
  std::string why;
  auto u = cr::parse_url("HTTPS://Acme.Example.com:8443/a/b?x=1#f", why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "acme.example.com");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->path, "/a/b");
  EXPECT_EQ(u->query, "?x=1#f");
  EXPECT_EQ(u->origin(), "https://acme.example.com:8443");
  auto v6 = cr::parse_url("http://[::1]:9000", why);
  ASSERT_TRUE(v6) << why;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->origin(), "http://[::1]:9000");
  EXPECT_FALSE(cr::parse_url("acme.my.salesforce.com", why));
  EXPECT_FALSE(cr::parse_url("ftp://acme.example.com", why));
  EXPECT_FALSE(cr::parse_url("https://", why));
  EXPECT_FALSE(cr::parse_url("https://user:pw@acme.example.com", why));
  EXPECT_FALSE(cr::parse_url("https://acme.example.com:", why));
  EXPECT_FALSE(cr::parse_url("https://acme.example.com:99999", why));
  EXPECT_FALSE(cr::parse_url("https://acme example.com", why));
  EXPECT_FALSE(cr::parse_url("https://[::1", why));
}

TEST(ConfigRules, MyDomainUrls) {
  std::string norm, warning;
  EXPECT_EQ(cr::check_my_domain_url("https://acme.my.salesforce.com", norm, warning), "");
  EXPECT_EQ(norm, "https://acme.my.salesforce.com");
  EXPECT_EQ(warning, "");
  EXPECT_EQ(cr::check_my_domain_url("https://Acme--UAT.sandbox.my.salesforce.com/", norm, warning),
            "");
  EXPECT_EQ(norm, "https://acme--uat.sandbox.my.salesforce.com");
  EXPECT_EQ(cr::check_my_domain_url("http://127.0.0.1:18443", norm, warning), "");  // the sandbox
  EXPECT_EQ(norm, "http://127.0.0.1:18443");
  EXPECT_EQ(warning, "");
  EXPECT_EQ(cr::check_my_domain_url("https://login.example-custom.com", norm, warning), "");
  EXPECT_NE(warning.find("not a *.my.salesforce.com"), std::string::npos);

  auto err = [](const std::string& url) {
    std::string n, w;
    return cr::check_my_domain_url(url, n, w);
  };
  EXPECT_NE(err("https://login.salesforce.com").find("https://<MyDomain>.my.salesforce.com"),
            std::string::npos);
  EXPECT_NE(err("https://LOGIN.salesforce.com/services/oauth2/token").find("login.salesforce.com"),
            std::string::npos);
  EXPECT_NE(err("https://test.salesforce.com/").find("test.salesforce.com"), std::string::npos);
  EXPECT_NE(err("https://acme.lightning.force.com").find("https://acme.my.salesforce.com"),
            std::string::npos);
  EXPECT_NE(err("https://acme--sbx.sandbox.lightning.force.com/lightning/page/home")
                .find("https://acme--sbx.sandbox.my.salesforce.com"),
            std::string::npos);
  EXPECT_NE(err("http://acme.my.salesforce.com").find("https"), std::string::npos);
  EXPECT_NE(err("http://10.0.0.1").find("https"), std::string::npos);
  EXPECT_NE(err("https://acme.my.salesforce.com/services").find("path"), std::string::npos);
  EXPECT_NE(err("https://acme.my.salesforce.com?x").find("query"), std::string::npos);
  EXPECT_NE(err("acme.my.salesforce.com"), "");
}

TEST(ConfigRules, InfisicalUrls) {
  std::string norm;
  EXPECT_EQ(cr::check_infisical_url("https://app.infisical.com", norm), "");
  EXPECT_EQ(norm, "https://app.infisical.com");
  EXPECT_EQ(cr::check_infisical_url("https://secrets.corp.example/infisical/api//", norm), "");
  EXPECT_EQ(norm, "https://secrets.corp.example/infisical/api");
  EXPECT_EQ(cr::check_infisical_url("http://localhost:8080", norm), "");
  EXPECT_EQ(cr::check_infisical_url("http://127.0.0.2", norm), "");
  EXPECT_EQ(cr::check_infisical_url("http://[::1]:80/", norm), "");
  EXPECT_EQ(norm, "http://[::1]:80");
  EXPECT_NE(cr::check_infisical_url("http://infisical.example.com", norm), "");
  EXPECT_NE(cr::check_infisical_url("http://192.168.1.1", norm), "");
  EXPECT_NE(cr::check_infisical_url("https://app.infisical.com/?x=1", norm), "");
  EXPECT_NE(cr::check_infisical_url("app.infisical.com", norm), "");
}

}  // namespace

namespace {

// Found by fuzzing: 20,000 nested defaults overflowed the stack of `validate`.
TEST(ConfigExpand, DeepNestingIsAnErrorNotACrash) {
  const int n = 20000;
  std::string in;
  for (int i = 0; i < n; ++i) in += "${UNSET_VAR:-";
  in += "x" + std::string(n, '}');
  EXPECT_NE(expand_error(in).find("nested more than 32 levels"), std::string::npos);
  std::string ok;
  for (int i = 0; i < 30; ++i) ok += "${UNSET_VAR:-";
  ok += "x" + std::string(30, '}');
  EXPECT_EQ(expand(ok), "x");
}

}  // namespace

// Fuzzes configuration loading (agent/config.h): TOML parsing, drop-in merging,
// ${VAR} expansion and validation of every key.
//
// Input: the main agent.toml. A line "### conf.d" splits it: the text after the
// first such line becomes conf.d/10-a.toml, after the second conf.d/20-b.toml.
// The scratch directory also holds a CA file and secret files (one private, one
// world-readable, one group-writable) that configs may name by relative path,
// and a $CREDENTIALS_DIRECTORY with the systemd credentials the loader looks for.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/config.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr std::string_view kDropInMarker = "\n### conf.d\n";

eca::fuzz::ScratchDir* g_dir = nullptr;

std::optional<std::string> fake_env(const std::string& name) {
  if (name == "CREDENTIALS_DIRECTORY") return (g_dir->path() / "creds").string();
  if (name == "INFISICAL_HOST") return std::string("infisical.example.com");
  if (name == "INFISICAL_CLIENT_ID") return std::string("id-from-env");
  if (name == "INFISICAL_CLIENT_SECRET") return std::string("secret-from-env");
  if (name == "SF_CLIENT_ID") return std::string("3MVGfromenv");
  if (name == "SF_SECRET_PART") return std::string("part");
  if (name == "SF_DOMAIN") return std::string("acme");
  if (name == "PUBLIC_KEY") return std::string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  if (name == "APP_PREFIX") return std::string("0xI");
  if (name == "ENVIRONMENT") return std::string("prod");
  if (name == "FULL_INFISICAL_SECRET" || name == "FULL_SF_SECRET" || name == "TEST_SF_SECRET")
    return std::string("secret-from-env");
  if (name == "EMPTY_VAR") return std::string();
  if (name == "INJECT") return std::string("\"\n[agent]\nconcurrency = 0\n# ${INJECT}");
  return std::nullopt;  // TZDIR among others: the system zoneinfo is used
}

void setup() {
  static eca::fuzz::ScratchDir dir("config");
  g_dir = &dir;
  const auto& d = dir.path();
  std::filesystem::create_directories(d / "conf.d");
  std::filesystem::create_directories(d / "creds");
  eca::fuzz::write_file(d / "ca.pem",
                        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0644);
  eca::fuzz::write_file(d / "secret.txt", "file-secret\n", 0600);
  eca::fuzz::write_file(d / "secret-world-readable.txt", "world-secret", 0644);
  eca::fuzz::write_file(d / "secret-group-writable.txt", "gw-secret", 0660);
  eca::fuzz::write_file(d / "secret-empty.txt", "\n", 0600);
  eca::fuzz::write_file(d / "creds" / "infisical-client-secret", "cred-secret", 0400);
  eca::fuzz::write_file(d / "creds" / "sf-acme-client-secret", "sf-cred-secret", 0400);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (g_dir == nullptr) {
    eca::fuzz::init_sodium();
    setup();
  }
  const auto& d = g_dir->path();

  std::vector<std::string_view> parts;
  std::string_view in = eca::fuzz::as_view(data, size);
  while (parts.size() < 2) {
    auto at = in.find(kDropInMarker);
    if (at == std::string_view::npos) break;
    parts.push_back(in.substr(0, at));
    in.remove_prefix(at + kDropInMarker.size());
  }
  parts.push_back(in);

  // agent.toml is group/world readable so inline secrets draw their warning.
  eca::fuzz::write_file(d / "agent.toml", parts[0], 0644);
  const std::filesystem::path drop_ins[] = {d / "conf.d" / "10-a.toml", d / "conf.d" / "20-b.toml"};
  for (std::size_t i = 0; i < 2; ++i) {
    std::error_code ec;
    if (i + 1 < parts.size())
      eca::fuzz::write_file(drop_ins[i], parts[i + 1], 0644);
    else
      std::filesystem::remove(drop_ins[i], ec);
  }

  eca::ConfigLoadResult r = eca::load_config(d / "agent.toml", fake_env);

  ECA_FUZZ_CHECK(r.config.has_value() == r.errors.empty());
  for (const auto& e : r.errors) {
    ECA_FUZZ_CHECK(!e.file.empty() && !e.message.empty());
    ECA_FUZZ_CHECK(e.line >= 0 && e.column >= 0);
    ECA_FUZZ_CHECK(!e.to_string().empty());
  }
  if (r.config) {
    const eca::Config& c = *r.config;
    ECA_FUZZ_CHECK(!c.files.empty() && c.files.front() == d / "agent.toml");
    ECA_FUZZ_CHECK(c.agent.concurrency >= 1 && c.agent.concurrency <= 256);
    for (const auto& rot : c.rotations) {
      ECA_FUZZ_CHECK(!rot.name.empty());
      ECA_FUZZ_CHECK(c.find_rotation(rot.name) == &rot);  // names are unique
      ECA_FUZZ_CHECK(c.connections.count(rot.connection) == 1);
      ECA_FUZZ_CHECK(rot.interval_days >= 1 && rot.interval_days <= 365);
      ECA_FUZZ_CHECK(rot.consumer_key_secret != rot.consumer_secret_secret);
    }
    for (const auto& [name, conn] : c.connections) {
      ECA_FUZZ_CHECK(name == conn.name);
      ECA_FUZZ_CHECK(!conn.client_secret.empty());
    }
    ECA_FUZZ_CHECK(!c.infisical.client_secret.empty());
  }
  return 0;
}

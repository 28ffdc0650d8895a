#include "tests/e2e/e2e_fixture.h"

#include <fstream>

#include "crypto/envelope.h"

namespace eca::e2e {

void E2eFixture::SetUp() {
  sb_ = std::make_unique<sandbox::Sandbox>(sandbox_options());
  char tmpl[] = "/tmp/eca-e2e-XXXXXX";
  dir_ = mkdtemp(tmpl);
  kp_ = generate_key_pair();
  auto key = std::make_shared<Secret>(kp_.private_key_b64.clone());
  sb_->set_decoder([key](const std::string& v) -> std::optional<std::string> {
    auto opened = open_envelope(v, *key);
    if (!opened) return std::nullopt;
    return std::string(opened->view());
  });
  for (std::size_t i = 0; i < sb_->target_apps().size(); ++i) {
    sb_->watch(sb_->project_id(), "prod", "/salesforce/app-" + std::to_string(i + 1),
               sandbox::Sandbox::kKeyName, sandbox::Sandbox::kSecretName, sb_->target_apps()[i].id);
  }
  ASSERT_TRUE(write_key_pair(kp_, dir_ / "recipient.key").ok());
  std::ofstream(dir_ / "inf-secret") << sb_->infisical_client_secret();
  std::ofstream(dir_ / "sf-secret") << sb_->connection_app().primary().secret;
  std::filesystem::permissions(dir_ / "inf-secret", std::filesystem::perms::owner_read |
                                                        std::filesystem::perms::owner_write);
  std::filesystem::permissions(
      dir_ / "sf-secret", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  known_secrets_.insert(sb_->infisical_client_secret());
  write_config();
}

void E2eFixture::TearDown() {
  collect_known_secrets();
  sb_->stop();
  // The canary: no credential, of any generation, ever appears in what the agent printed.
  for (const auto& s : known_secrets_) {
    if (s.size() < 8) continue;
    EXPECT_EQ(all_output_.find(s), std::string::npos)
        << "a credential (" << s.size() << " chars, starting " << s.substr(0, 4)
        << "...) appeared in the agent's output";
  }
  for (const auto& v : sb_->violations()) ADD_FAILURE() << "invariant violated: " << v.description;
  std::filesystem::remove_all(dir_);
}

void E2eFixture::collect_known_secrets() {
  known_secrets_.insert(sb_->connection_app().primary().key);
  known_secrets_.insert(sb_->connection_app().primary().secret);
  for (const auto& app : sb_->salesforce().apps()) {
    for (const auto& c : app.consumers) {
      if (auto p = sb_->salesforce().primary(app.id, c.id)) {
        known_secrets_.insert(p->key);
        known_secrets_.insert(p->secret);
      }
      if (auto s = sb_->salesforce().staged(app.id, c.id)) {
        known_secrets_.insert(s->credential.key);
        known_secrets_.insert(s->credential.secret);
      }
    }
  }
  for (std::size_t i = 1; i <= sb_->target_apps().size(); ++i) {
    for (const char* name : {sandbox::Sandbox::kKeyName, sandbox::Sandbox::kSecretName}) {
      for (const auto& v : sb_->infisical().versions(
               sb_->project_id(), "prod", "/salesforce/app-" + std::to_string(i), name)) {
        if (auto opened = open_envelope(v, kp_.private_key_b64)) {
          known_secrets_.insert(std::string(opened->view()));
        }
      }
    }
  }
}

void E2eFixture::write_config(const std::string& extra, const std::string& state_dir) {
  std::string t;
  t += "[agent]\nstate_dir = \"" + (dir_ / state_dir).string() + "\"\nconcurrency = 4\n\n";
  t += "[infisical]\nurl = \"" + sb_->infisical().base_url() + "\"\nproject_id = \"" +
       sb_->project_id() + "\"\nenvironment = \"prod\"\n\n";
  t += "[infisical.auth]\nmethod = \"universal-auth\"\nclient_id = \"" +
       sb_->infisical_client_id() + "\"\nclient_secret_file = \"" + (dir_ / "inf-secret").string() +
       "\"\n\n";
  t += "[encryption]\nmode = \"sealed-box\"\nrecipient_public_key = \"" + kp_.public_key_b64 +
       "\"\n\n";
  t += "[connections.sandbox]\nmy_domain_url = \"" + sb_->salesforce().base_url() +
       "\"\nclient_id = \"" + sb_->connection_app().primary().key + "\"\nclient_secret_file = \"" +
       (dir_ / "sf-secret").string() + "\"\n";
  for (std::size_t i = 0; i < sb_->target_apps().size(); ++i) {
    std::string n = std::to_string(i + 1);
    t += "\n[[rotation]]\nname = \"app-" + n + "\"\nconnection = \"sandbox\"\napp_id = \"" +
         sb_->target_apps()[i].id + "\"\ninterval_days = 14\nrotate_at = \"03:00\"\n" +
         "secret_path = \"/salesforce/app-" + n + "\"\n";
  }
  t += extra;
  config_ = dir_ / "agent.toml";
  std::ofstream(config_) << t;
  std::filesystem::permissions(
      config_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

std::string E2eFixture::slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string E2eFixture::slurp_config() const {
  return slurp(config_);
}

std::vector<std::string> E2eFixture::with_config(std::vector<std::string> args) const {
  args.insert(args.begin(), {"--config", config_.string()});
  return args;
}

ProcessResult E2eFixture::run(const std::vector<std::string>& args, int timeout_s) {
  ProcessResult r = run_agent(with_config(args), {{"!CREDENTIALS_DIRECTORY", ""}}, timeout_s);
  remember(r);
  return r;
}

void E2eFixture::remember(const ProcessResult& r) {
  all_output_ += r.out;
  all_output_ += r.err;
}

std::optional<sandbox::Credential> E2eFixture::published(int n) {
  const std::string path = "/salesforce/app-" + std::to_string(n);
  auto k = sb_->infisical().secret(sb_->project_id(), "prod", path, sandbox::Sandbox::kKeyName);
  auto s = sb_->infisical().secret(sb_->project_id(), "prod", path, sandbox::Sandbox::kSecretName);
  if (!k || !s) return std::nullopt;
  auto ko = open_envelope(k->value, kp_.private_key_b64);
  auto so = open_envelope(s->value, kp_.private_key_b64);
  if (!ko || !so) return std::nullopt;
  return sandbox::Credential{std::string(ko->view()), std::string(so->view())};
}

void E2eFixture::expect_every_published_pair_authenticates(bool current) {
  for (std::size_t i = 0; i < sb_->target_apps().size(); ++i) {
    const int n = static_cast<int>(i + 1);
    auto pub = published(n);
    ASSERT_TRUE(pub.has_value()) << "nothing published for app-" << n;
    EXPECT_TRUE(sb_->salesforce().authenticates(pub->key, pub->secret)) << "app-" << n;
    if (current) {
      EXPECT_EQ(pub->key, sb_->salesforce().primary(sb_->target_apps()[i].id)->key) << "app-" << n;
    }
  }
}

}  // namespace eca::e2e

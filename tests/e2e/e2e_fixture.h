// E2eFixture: the sandbox in-process, a config for it in a temporary directory,
// and the real eca-rotator binary run against them. Every byte the binary prints
// is kept, and checked at the end for every credential the sandbox ever issued.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crypto/key_pair.h"
#include "tests/e2e/agent_process.h"
#include "tests/sandbox/sandbox.h"

namespace eca::e2e {

class E2eFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // The sandbox each test gets (a subclass may serve it over HTTPS, for one).
  virtual sandbox::SandboxOptions sandbox_options() const { return {}; }

  // Writes agent.toml for the sandbox with one rotation per target app
  // ("app-1".."app-N" at /salesforce/app-N); `extra` is appended verbatim.
  void write_config(const std::string& extra = "", const std::string& state_dir = "state");
  std::vector<std::string> with_config(std::vector<std::string> args) const;
  std::string slurp_config() const;
  static std::string slurp(const std::filesystem::path& file);  // "" when unreadable

  // Runs the agent to completion and remembers what it printed.
  ProcessResult run(const std::vector<std::string>& args, int timeout_s = 120);
  // Records output of a process the test started itself.
  void remember(const ProcessResult& r);

  // The pair Infisical holds at /salesforce/app-N, opened with the private key.
  std::optional<sandbox::Credential> published(int n);
  // Every app's published pair authenticates at the fake org; with `current`, it is also
  // the app's primary (not a previous pair that still works).
  void expect_every_published_pair_authenticates(bool current = false);
  // Remembers every credential the sandbox currently knows (for the canary check).
  void collect_known_secrets();

  std::unique_ptr<sandbox::Sandbox> sb_;
  std::filesystem::path dir_;
  std::filesystem::path config_;
  KeyPair kp_;
  std::string all_output_;
  std::set<std::string> known_secrets_;
};

}  // namespace eca::e2e

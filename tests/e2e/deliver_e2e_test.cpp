// The consumer side end to end: one agent process rotates app-1 (the real binary, the
// sandbox behind it) while a second process with a consumer-only config delivers the
// pair to a file, or `exec --watch` hands it to a child. Everything is read back from
// outside: the file as an application sees it, the hook's traces, the child's output.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace eca::e2e {
namespace {

// "NAME='value'" lines of an env file; empty when any line is not one.
std::map<std::string, std::string> parse_env(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find("='");
    if (eq == std::string::npos || line.size() < eq + 3 || line.back() != '\'') return {};
    out[line.substr(0, eq)] = line.substr(eq + 2, line.size() - eq - 3);
  }
  return out;
}

bool eventually(const std::function<bool()>& pred, int seconds = 30) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

class DeliverE2e : public E2eFixture {
 protected:
  void SetUp() override {
    E2eFixture::SetUp();
    clock_file_ = dir_ / "consumer-clock-ms";
    set_clock(0);
    std::filesystem::create_directories(dir_ / "out");
    // A group other than our own, to see that `group` is applied.
    const group* g = ::getgrnam("daemon");
    group_ = g ? "daemon" : "root";
    gid_ = g ? g->gr_gid : 0;
    // Giving the file to another user takes root (the agent as root, or CAP_CHOWN).
    const passwd* pw = ::geteuid() == 0 ? ::getpwnam("daemon") : nullptr;
    owner_ = pw ? "owner = \"daemon\"\n" : "";
    uid_ = pw ? pw->pw_uid : ::geteuid();
  }
  void set_clock(long long ms) { std::ofstream(clock_file_) << ms; }
  // A VM that rotates nothing: [infisical] and one [[deliver]] entry.
  std::filesystem::path consumer_config(const std::string& deliver_extra) {
    std::string t = "[agent]\nstate_dir = \"" + (dir_ / "consumer-state").string() + "\"\n\n";
    t += "[infisical]\nurl = \"" + sb_->infisical().base_url() + "\"\nproject_id = \"" +
         sb_->project_id() + "\"\nenvironment = \"prod\"\n\n[infisical.auth]\nclient_id = \"" +
         sb_->infisical_client_id() + "\"\nclient_secret_file = \"" +
         (dir_ / "inf-secret").string() + "\"\n\n";
    t += "[[deliver]]\nname = \"app-1\"\nsecret_path = \"/salesforce/app-1\"\nprivate_key_file = "
         "\"" +
         (dir_ / "recipient.key").string() + "\"\n" + deliver_extra;
    auto p = dir_ / "consumer.toml";
    std::ofstream(p) << t;
    std::filesystem::permissions(
        p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return p;
  }
  std::unique_ptr<AgentProcess> start(const std::filesystem::path& config,
                                      std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config.string()});
    return std::make_unique<AgentProcess>(
        ECA_ROTATOR_BIN, args,
        std::map<std::string, std::string>{{"!CREDENTIALS_DIRECTORY", ""},
                                           {"ECA_ROTATOR_TEST_CLOCK_FILE", clock_file_.string()}});
  }
  ProcessResult stop(AgentProcess& p) {
    ::kill(p.pid(), SIGTERM);
    auto r = p.wait(30);
    remember(r);
    return r;
  }
  void rotate_app1() {
    auto r = run({"rotate", "app-1", "--no-progress"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::filesystem::path clock_file_;
  std::string group_;
  gid_t gid_ = 0;
  std::string owner_;  // an `owner = ...` line, or none
  uid_t uid_ = 0;
};

TEST_F(DeliverE2e, ConsumerAgentDeliversEachRotationWholeAndRunsTheHookOncePerChange) {
  rotate_app1();  // the pair exists before the consumer starts
  const auto file = dir_ / "out" / "app-1.env";
  const auto hook_log = dir_ / "hook.log";
  const int poll = 3600;  // on the test clock: the test decides when a poll is due
  auto cfg = consumer_config(
      "path = \"" + file.string() + "\"\nformat = \"env\"\nmode = \"0640\"\ngroup = \"" + group_ +
      "\"\n" + owner_ + "poll_seconds = " + std::to_string(poll) +
      "\non_change_debounce_seconds = 0\non_change = [\"/bin/sh\", \"-c\", "
      "\"echo $ECA_GENERATION >> " +
      hook_log.string() + "; env >> " + (dir_ / "hook.env").string() + "\"]\n");
  auto validate = run_agent({"--config", cfg.string(), "validate"});
  remember(validate);
  ASSERT_EQ(validate.exit_code, 0) << validate.err;
  auto consumer = start(cfg, {"run"});
  ASSERT_TRUE(eventually([&] { return slurp(hook_log) == "1\n"; })) << slurp(hook_log);

  // Readers loop over the file for the whole run: never a partial or mixed pair.
  std::atomic<bool> done{false};
  std::set<std::pair<std::string, std::string>> seen;
  std::atomic<int> reads{0}, torn{0};
  std::thread reader([&] {
    while (!done) {
      auto env = parse_env(slurp(file));
      if (env.size() != 2)
        ++torn;
      else
        seen.emplace(env["SALESFORCE_CONSUMER_KEY"], env["SALESFORCE_CONSUMER_SECRET"]);
      ++reads;
    }
  });
  std::set<std::pair<std::string, std::string>> published_pairs;
  published_pairs.insert({published(1)->key, published(1)->secret});
  long long clock_ms = 0;
  std::vector<double>
      latency_ms;  // from the poll falling due to the new file: printed, not asserted
  int lists = sb_->infisical().request_count("inf.list");
  for (int gen = 2; gen <= 21; ++gen) {
    rotate_app1();
    auto pair = published(1);
    ASSERT_TRUE(pair);
    published_pairs.insert({pair->key, pair->secret});
    struct stat before {};
    ASSERT_EQ(::stat(file.c_str(), &before), 0);
    // Not yet due: the file still holds the previous pair.
    EXPECT_NE(parse_env(slurp(file))["SALESFORCE_CONSUMER_KEY"], pair->key);
    clock_ms += poll * 1000LL;  // one poll interval later
    const auto due = std::chrono::steady_clock::now();
    set_clock(clock_ms);
    ASSERT_TRUE(eventually([&] {
      return parse_env(slurp(file))["SALESFORCE_CONSUMER_KEY"] == pair->key;
    })) << "generation "
        << gen << " not delivered one poll interval after the rotation";
    latency_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - due).count());
    auto env = parse_env(slurp(file));
    EXPECT_EQ(env["SALESFORCE_CONSUMER_SECRET"], pair->secret);
    EXPECT_TRUE(sb_->salesforce().authenticates(env["SALESFORCE_CONSUMER_KEY"],
                                                env["SALESFORCE_CONSUMER_SECRET"]));
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_gid, gid_);
    EXPECT_EQ(st.st_uid, uid_);
    EXPECT_NE(st.st_ino, before.st_ino);  // replaced by rename, never written in place
  }
  // A poll with nothing new: same inode, same mtime, no hook.
  ASSERT_TRUE(eventually([&] { return slurp(hook_log).find("\n21\n") != std::string::npos; }));
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(file.c_str(), &a), 0);
  lists = sb_->infisical().request_count("inf.list");
  set_clock(clock_ms += poll * 1000LL);
  ASSERT_TRUE(eventually([&] { return sb_->infisical().request_count("inf.list") > lists; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(::stat(file.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
  EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
  done = true;
  reader.join();

  std::string expected_hooks;
  for (int g = 1; g <= 21; ++g) expected_hooks += std::to_string(g) + "\n";
  EXPECT_EQ(slurp(hook_log), expected_hooks);  // first render, then once per change
  std::sort(latency_ms.begin(), latency_ms.end());
  std::printf(
      "delivery after the poll fell due (%zu rotations): median %.0f ms, max %.0f ms; "
      "%d whole reads by the looping reader\n",
      latency_ms.size(), latency_ms[latency_ms.size() / 2], latency_ms.back(), reads.load());
  EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 20);
  for (const auto& p : seen)
    EXPECT_TRUE(published_pairs.count(p)) << "a pair that was never published";
  EXPECT_GE(seen.size(), 2u);
  const std::string hook_env = slurp(dir_ / "hook.env");
  for (const auto& [k, s] : published_pairs) {
    EXPECT_EQ(hook_env.find(k), std::string::npos);
    EXPECT_EQ(hook_env.find(s), std::string::npos);
  }
  auto r = stop(*consumer);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("wrote generation 21"), std::string::npos) << r.err;
}

TEST_F(DeliverE2e, ExecWatchRestartsTheChildWithEachGeneration) {
  rotate_app1();
  auto cfg = consumer_config("poll_seconds = 1\n");
  const auto seen = dir_ / "seen.log";
  // The child records the key it was given (to a file: never to our output), then waits.
  auto exec = start(cfg, {"exec", "--watch", "--grace", "5", "--", "/bin/sh", "-c",
                          "echo \"$SALESFORCE_CONSUMER_KEY\" >> " + seen.string() +
                              "; trap 'exit 0' TERM; while :; do sleep 0.05; done"});
  std::vector<std::string> keys = {published(1)->key};
  if (!eventually([&] { return slurp(seen) == keys[0] + "\n"; })) {
    auto r = stop(*exec);
    FAIL() << "the child did not start with the pair (" << slurp(seen).size()
           << " bytes seen)\nexec said:\n"
           << r.err;
  }
  for (int i = 0; i < 3; ++i) {
    rotate_app1();
    keys.push_back(published(1)->key);
    std::string want;
    for (const auto& k : keys) want += k + "\n";
    ASSERT_TRUE(eventually([&] { return slurp(seen) == want; })) << "after rotation " << i + 1;
  }
  auto r = stop(*exec);  // forwarded: the child's trap exits 0, and so do we
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("restarting /bin/sh"), std::string::npos) << r.err;
}

TEST_F(DeliverE2e, ExecPassesTheExitStatusAndRefusesAKeyOthersCanRead) {
  rotate_app1();
  auto cfg = consumer_config("");
  auto r = run_agent({"--config", cfg.string(), "exec", "--", "/bin/sh", "-c",
                      "test -n \"$SALESFORCE_CONSUMER_SECRET\" && exit 7"},
                     {{"!CREDENTIALS_DIRECTORY", ""}});
  remember(r);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  auto missing = run_agent({"--config", cfg.string(), "exec", "--", "/nonexistent/app"},
                           {{"!CREDENTIALS_DIRECTORY", ""}});
  remember(missing);
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.err.find("cannot run /nonexistent/app: no such file"), std::string::npos)
      << missing.err;
  ::chmod((dir_ / "recipient.key").c_str(), 0644);
  auto refused =
      run_agent({"--config", cfg.string(), "validate"}, {{"!CREDENTIALS_DIRECTORY", ""}});
  remember(refused);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("chmod 600"), std::string::npos) << refused.err;
  ::chmod((dir_ / "recipient.key").c_str(), 0600);
}

// A consumer VM whose [infisical] section names another environment than the deliveries'
// place: their polls go through clients of their own, and those pace within the same
// `rate_limits` as everything else. Before, they bypassed the budget and Infisical
// answered 429 (and the deliveries failed) as soon as a poll read more places than a
// window allows.
TEST_F(DeliverE2e, DeliveriesFromAnotherPlacePaceWithinTheRateLimits) {
  const int apps = static_cast<int>(sb_->target_apps().size());
  ASSERT_GE(apps, 3);
  auto rotated = run({"rotate", "--all", "--no-progress"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  std::string t = "[agent]\nstate_dir = \"" + (dir_ / "consumer-state").string() + "\"\n\n";
  t += "[infisical]\nurl = \"" + sb_->infisical().base_url() + "\"\nproject_id = \"" +
       sb_->project_id() +
       "\"\nenvironment = \"dev\"\nrate_limits = { secret = 2 }\n\n[infisical.auth]\n"
       "client_id = \"" +
       sb_->infisical_client_id() + "\"\nclient_secret_file = \"" + (dir_ / "inf-secret").string() +
       "\"\n\n";
  for (int n = 1; n <= apps; ++n) {
    const std::string name = "app-" + std::to_string(n);
    t += "[[deliver]]\nname = \"" + name +
         "\"\nenvironment = \"prod\"\nsecret_path = " + "\"/salesforce/" + name +
         "\"\nprivate_key_file = \"" + (dir_ / "recipient.key").string() + "\"\npath = \"" +
         (dir_ / "out" / (name + ".env")).string() + "\"\n\n";
  }
  const auto cfg = dir_ / "consumer-places.toml";
  std::ofstream(cfg) << t;
  std::filesystem::permissions(
      cfg, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // Two secret operations a second: the deliveries' listings need more than one window.
  sandbox::InfisicalRateLimits limits;
  limits.secret = 2;
  limits.window = std::chrono::milliseconds(1000);
  sb_->infisical().set_rate_limits(limits);
  auto r = run_agent({"--config", cfg.string(), "run", "--once"},
                     {{"!CREDENTIALS_DIRECTORY", ""}, {"ECA_ROTATOR_TEST_RATE_WINDOW_MS", "1000"}});
  remember(r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sb_->infisical().rate_limited_count(), 0) << r.err;
  for (int n = 1; n <= apps; ++n) {
    auto env = parse_env(slurp(dir_ / "out" / ("app-" + std::to_string(n) + ".env")));
    ASSERT_TRUE(published(n).has_value()) << n;
    EXPECT_EQ(env["SALESFORCE_CONSUMER_KEY"], published(n)->key) << "app-" << n << r.err;
  }
}

// `validate --online` on a consumer VM says, per delivery, what `run` would write: the
// generation that opens with this VM's key, or why nothing would be written. Nothing is
// written by it.
TEST_F(DeliverE2e, ValidateOnlineSaysWhatEachDeliveryWouldWrite) {
  rotate_app1();
  const auto file = dir_ / "out" / "app-1.env";
  auto cfg = consumer_config(
      "path = \"" + file.string() +
      "\"\n\n[[deliver]]\nname = \"app-2\"\nsecret_path = \"/salesforce/app-2\"\n"
      "private_key_file = \"" +
      (dir_ / "recipient.key").string() + "\"\npath = \"" + (dir_ / "out" / "app-2.env").string() +
      "\"\n\n[[deliver]]\nname = \"app-1-staging\"\nenvironment = \"staging\"\n"
      "secret_path = \"/salesforce/app-1\"\nprivate_key_file = \"" +
      (dir_ / "recipient.key").string() + "\"\npath = \"" +
      (dir_ / "out" / "staging.env").string() + "\"\n");
  auto r = run_agent({"--config", cfg.string(), "validate", "--online"},
                     {{"!CREDENTIALS_DIRECTORY", ""}});
  remember(r);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("delivery app-1 +ok +generation 1 \\(key [0-9a-f]+\\) "
                                       "at prod:/salesforce/app-1 opens with "))
      << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("delivery app-2 +FAIL +no SALESFORCE_CONSUMER_KEY in "
                                              "prod:/salesforce/app-2 yet"))
      << r.out;
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("delivery app-1-staging +FAIL .*\"staging\": check "
                                       "environment of \\[\\[deliver\\]\\] \"app-1-staging\""))
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(file)) << "validate writes nothing";
}

}  // namespace
}  // namespace eca::e2e

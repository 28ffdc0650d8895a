// Unit tests of the consumer side: [[deliver]] config rules, opening a pair from a folder
// listing, the file formats, the unchanged-file rule, and the polling service (one
// listing per place, hook once per change and on first render, errors keep the file,
// lag on /healthz) against an in-memory Infisical and a hand-moved clock.
#include "agent/delivery.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/config.h"
#include "agent/logger.h"
#include "agent/metrics.h"
#include "agent/rotation_engine.h"
#include "clients/infisical_client.h"
#include "crypto/envelope.h"
#include "crypto/fingerprint.h"
#include "crypto/key_pair.h"

namespace fs = std::filesystem;
using namespace eca;

namespace {

const std::string kKeyCanary = "3MVG9CANARY-KEY-it's-\"odd\"";
const std::string kSecretCanary = "CANARYSECRET$HOME`x`\\n";

std::map<std::string, std::string> g_env;
std::optional<std::string> lookup(const std::string& name) {
  auto it = g_env.find(name);
  if (it == g_env.end()) return std::nullopt;
  return it->second;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class ManualClock final : public Clock {
 public:
  TimePoint now() const override { return t; }
  TimePoint t = TimePoint(std::chrono::seconds(1'800'000'000));
};

// The folder listings a consumer reads; counts the calls so a test can tell how many
// listings a poll made.
class FolderFake final : public InfisicalApi {
 public:
  Status login() override { return ok_status(); }
  Status renew() override { return ok_status(); }
  Result<std::vector<StoredSecret>> list(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu);
    ++lists;
    if (down) return Error::transient("HTTP 503 from the fake");
    std::vector<StoredSecret> out;
    for (const auto& s : folders[path])
      out.push_back({s.name, s.value.clone(), s.version, s.metadata});
    return out;
  }
  Status upsert(const std::string&, std::vector<SecretWrite>&,
                std::vector<StoredSecret>*) override {
    return ok_status();
  }
  Status create_folder(const std::string&) override { return ok_status(); }
  Status probe_environment() override { return ok_status(); }

  // What the rotator publishes: both values sealed (or plain), the same metadata on each.
  void publish(const std::string& path, const std::string& key, const std::string& secret,
               long generation, const Sealer* sealer) {
    std::map<std::string, std::string> md = {{meta::kFingerprint, fingerprint(key)},
                                             {meta::kGeneration, std::to_string(generation)},
                                             {meta::kRotatedAt, "2027-01-15T03:00:00Z"}};
    std::lock_guard<std::mutex> lock(mu);
    auto& f = folders[path];
    f.clear();
    f.push_back({"SALESFORCE_CONSUMER_KEY", Secret(sealer ? sealer->seal(key) : key), 1, md});
    f.push_back(
        {"SALESFORCE_CONSUMER_SECRET", Secret(sealer ? sealer->seal(secret) : secret), 1, md});
  }
  std::map<std::string, std::vector<StoredSecret>> folders;
  int lists = 0;
  bool down = false;
  std::mutex mu;  // a started service lists from its own thread
};

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eca-delivery-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    g_env = {{"RUNTIME_DIRECTORY", (dir_ / "run").string()}};
    fs::create_directories(dir_ / "run");
    kp_ = generate_key_pair();
    auto s = Sealer::from_public_key(kp_.public_key_b64);
    ASSERT_TRUE(s);
    sealer_.emplace(std::move(s.value()));
    key_file_ = write("consumer.key", std::string(kp_.private_key_b64.view()), 0600);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& rel, const std::string& text, mode_t mode = 0600) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
  // A consumer-only config: [infisical] and deliveries, nothing to rotate.
  ConfigLoadResult load(const std::string& deliveries) {
    write("agent.toml",
          "[infisical]\nurl = \"https://infisical.example.com\"\nproject_id = \"proj\"\n"
          "environment = \"prod\"\n[infisical.auth]\nclient_id = \"id\"\nclient_secret = \"s\"\n" +
              deliveries);
    return load_config(dir_ / "agent.toml", lookup);
  }
  static std::string errors_of(const ConfigLoadResult& r) {
    std::string s;
    for (const auto& e : r.errors) s += e.to_string() + "\n";
    return s;
  }
  std::string deliver(const std::string& name, const std::string& extra = "") {
    return "[[deliver]]\nname = \"" + name +
           "\"\nsecret_path = \"/billing\"\nprivate_key_file = \"" + key_file_.string() + "\"\n" +
           extra;
  }

  fs::path dir_;
  KeyPair kp_;
  std::optional<Sealer> sealer_;
  fs::path key_file_;
};

TEST_F(DeliveryTest, ConsumerOnlyConfigIsValidWithDefaults) {
  auto r = load(deliver("billing"));
  ASSERT_TRUE(r.config) << errors_of(r);
  ASSERT_EQ(r.config->deliveries.size(), 1u);
  const auto& d = r.config->deliveries[0];
  EXPECT_TRUE(r.config->rotations.empty());
  EXPECT_EQ(d.project_id, "proj");
  EXPECT_EQ(d.environment, "prod");
  EXPECT_EQ(d.path, dir_ / "run" / "billing.env");  // under the runtime directory
  EXPECT_EQ(d.mode, 0600u);
  EXPECT_EQ(d.format, DeliveryFormat::Env);
  EXPECT_EQ(d.key_variable, "SALESFORCE_CONSUMER_KEY");
  EXPECT_TRUE(d.private_key.equals(kp_.private_key_b64.view()));
  for (const auto& w : r.config->warnings)
    EXPECT_EQ(w.find("nothing will be rotated"), std::string::npos) << w;
}

TEST_F(DeliveryTest, PrivateKeyReadableByOthersIsRefusedWithTheFix) {
  ::chmod(key_file_.c_str(), 0644);
  auto r = load(deliver("billing"));
  ASSERT_FALSE(r.config);
  const std::string all = errors_of(r);
  EXPECT_NE(all.find("deliver[0].private_key_file"), std::string::npos) << all;
  EXPECT_NE(all.find("chmod 600 " + key_file_.string()), std::string::npos) << all;
  EXPECT_EQ(all.find(std::string(kp_.private_key_b64.view())), std::string::npos);
}

TEST_F(DeliveryTest, PrivateKeyFromSystemdCredential) {
  fs::create_directories(dir_ / "creds");
  write("creds/eca-private-key", std::string(kp_.private_key_b64.view()), 0600);
  g_env["CREDENTIALS_DIRECTORY"] = (dir_ / "creds").string();
  auto r = load("[[deliver]]\nname = \"billing\"\n");
  ASSERT_TRUE(r.config) << errors_of(r);
  EXPECT_TRUE(r.config->deliveries[0].private_key.equals(kp_.private_key_b64.view()));
  g_env.erase("CREDENTIALS_DIRECTORY");
  auto missing = load("[[deliver]]\nname = \"billing\"\n");
  EXPECT_NE(errors_of(missing).find("LoadCredential="), std::string::npos) << errors_of(missing);
}

TEST_F(DeliveryTest, BadEntriesNameTheKeyToFix) {
  write("bad.tpl", "K={{key}} S={{secrte}}\n");
  auto r = load(
      deliver("a", "format = \"template\"\ntemplate_file = \"bad.tpl\"\n") +
      deliver("b", "mode = \"0666\"\non_change = \"systemctl reload x\"\nrotation = \"nope\"\n") +
      deliver("c", "group = \"no-such-group-eca\"\nformatt = \"env\"\n"));
  ASSERT_FALSE(r.config);
  const std::string all = errors_of(r);
  EXPECT_NE(all.find("deliver[0].template_file: " + (dir_ / "bad.tpl").string() +
                     ": unknown placeholder {{secrte}}"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("deliver[1].mode:"), std::string::npos) << all;
  EXPECT_NE(all.find("deliver[1].on_change: must be a non-empty array"), std::string::npos) << all;
  EXPECT_NE(all.find("deliver[1].rotation: no [[rotation]] named \"nope\""), std::string::npos)
      << all;
  EXPECT_NE(all.find("deliver[2].group: no such group"), std::string::npos) << all;
  EXPECT_NE(all.find("deliver[2].formatt: unknown key (did you mean \"format\"?)"),
            std::string::npos)
      << all;
}

TEST_F(DeliveryTest, EnvFormatSurvivesTheShellVerbatim) {
  auto r = load(deliver("billing"));
  ASSERT_TRUE(r.config) << errors_of(r);
  FolderFake inf;
  inf.publish("/billing", kKeyCanary, kSecretCanary, 3, &*sealer_);
  auto pair = open_pair(r.config->deliveries[0], inf.folders["/billing"]);
  ASSERT_TRUE(pair) << pair.error().message;
  EXPECT_EQ(pair->generation, 3);
  Secret text = render_delivery(r.config->deliveries[0], pair.value());
  fs::path env = write("out.env", std::string(text.view()));
  // A consumer sources the file: the values come back byte for byte, nothing expanded.
  std::string cmd =
      ". " + env.string() +
      " && printf '%s|%s' \"$SALESFORCE_CONSUMER_KEY\" \"$SALESFORCE_CONSUMER_SECRET\"";
  std::string out;
  FILE* q = ::popen(("sh " + write("probe.sh", cmd).string()).c_str(), "r");
  char buf[256];
  while (std::fgets(buf, sizeof buf, q)) out += buf;
  ::pclose(q);
  EXPECT_EQ(out, kKeyCanary + "|" + kSecretCanary);
}

TEST_F(DeliveryTest, JsonAndPropertiesEscapeTheirSpecialCharacters) {
  auto r = load(deliver("j", "format = \"json\"\n") +
                deliver("p", "format = \"properties\"\nkey_variable = \"sf_key\"\n"));
  ASSERT_TRUE(r.config) << errors_of(r);
  FolderFake inf;
  inf.publish("/billing", "k\"1", "s\\2=x", 7, &*sealer_);
  auto pair = open_pair(r.config->deliveries[0], inf.folders["/billing"]);
  ASSERT_TRUE(pair);
  EXPECT_EQ(render_delivery(r.config->deliveries[0], pair.value()).view(),
            "{\"SALESFORCE_CONSUMER_KEY\": \"k\\\"1\", \"SALESFORCE_CONSUMER_SECRET\": "
            "\"s\\\\2=x\", \"generation\": 7}\n");
  EXPECT_EQ(render_delivery(r.config->deliveries[1], pair.value()).view(),
            "sf_key=k\"1\nSALESFORCE_CONSUMER_SECRET=s\\\\2\\=x\n");
}

TEST_F(DeliveryTest, TemplateFillsEveryPlaceholder) {
  write("app.tpl", "key={{key}}\nsecret={{secret}}\ngen={{generation}} at {{rotated_at}}\n");
  auto r = load(deliver("t", "format = \"template\"\ntemplate_file = \"app.tpl\"\n"));
  ASSERT_TRUE(r.config) << errors_of(r);
  EXPECT_EQ(r.config->deliveries[0].path, dir_ / "run" / "t");
  FolderFake inf;
  inf.publish("/billing", "K", "S", 2, &*sealer_);
  auto pair = open_pair(r.config->deliveries[0], inf.folders["/billing"]);
  ASSERT_TRUE(pair);
  EXPECT_EQ(render_delivery(r.config->deliveries[0], pair.value()).view(),
            "key=K\nsecret=S\ngen=2 at 2027-01-15T03:00:00Z\n");
}

TEST_F(DeliveryTest, ValuesThatDoNotOpenAreErrorsNamingTheKey) {
  auto r = load(deliver("billing"));
  ASSERT_TRUE(r.config) << errors_of(r);
  const auto& d = r.config->deliveries[0];
  FolderFake inf;
  // Sealed to somebody else's key: the message names the key the envelope wants.
  KeyPair other = generate_key_pair();
  auto other_sealer = Sealer::from_public_key(other.public_key_b64);
  inf.publish("/billing", kKeyCanary, kSecretCanary, 4, &other_sealer.value());
  auto wrong = open_pair(d, inf.folders["/billing"]);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find(other_sealer->key_id()), std::string::npos)
      << wrong.error().message;
  // Plain where sealed was expected.
  inf.publish("/billing", kKeyCanary, kSecretCanary, 4, nullptr);
  auto plain = open_pair(d, inf.folders["/billing"]);
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("plain value where a sealed envelope was expected"),
            std::string::npos);
  // Two generations side by side (a hand edit): never half of each.
  inf.publish("/billing", kKeyCanary, kSecretCanary, 4, &*sealer_);
  inf.folders["/billing"][1].metadata[meta::kGeneration] = "5";
  auto mixed = open_pair(d, inf.folders["/billing"]);
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message.find("different rotations"), std::string::npos);
  // Tampered: a valid box for our key, but not the key the metadata names.
  inf.publish("/billing", kKeyCanary, kSecretCanary, 4, &*sealer_);
  inf.folders["/billing"][0].value = Secret(sealer_->seal("3MVG9other"));
  auto tampered = open_pair(d, inf.folders["/billing"]);
  ASSERT_FALSE(tampered);
  for (const auto* e : {&wrong.error(), &plain.error(), &mixed.error(), &tampered.error()}) {
    EXPECT_EQ(e->message.find(kKeyCanary), std::string::npos) << e->message;
    EXPECT_EQ(e->message.find(kSecretCanary), std::string::npos) << e->message;
  }
}

TEST_F(DeliveryTest, SealedValueForAPlainDeliveryIsRefused) {
  auto r =
      load("[[deliver]]\nname = \"plain\"\nsecret_path = \"/billing\"\nencryption = \"none\"\n");
  ASSERT_TRUE(r.config) << errors_of(r);
  FolderFake inf;
  inf.publish("/billing", "K", "S", 1, &*sealer_);
  auto res = open_pair(r.config->deliveries[0], inf.folders["/billing"]);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find(sealer_->key_id()), std::string::npos) << res.error().message;
}

TEST_F(DeliveryTest, UnchangedContentKeepsInodeAndMtimeChangedContentIsReplaced) {
  auto r = load(deliver("billing", "mode = \"0640\"\n"));
  ASSERT_TRUE(r.config) << errors_of(r);
  const auto& d = r.config->deliveries[0];
  auto first = write_delivery_file(d, Secret("A=1\n"));
  ASSERT_TRUE(first && first.value());
  struct stat a {
  }, b{}, c{};
  ASSERT_EQ(::stat(d.path.c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 0640u);
  ::usleep(20000);
  auto again = write_delivery_file(d, Secret("A=1\n"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again.value());
  ASSERT_EQ(::stat(d.path.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
  EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
  // A mode changed by hand is repaired in place, still without a rewrite.
  ::chmod(d.path.c_str(), 0644);
  ASSERT_TRUE(write_delivery_file(d, Secret("A=1\n")));
  ASSERT_EQ(::stat(d.path.c_str(), &c), 0);
  EXPECT_EQ(c.st_mode & 07777, 0640u);
  EXPECT_EQ(c.st_ino, a.st_ino);
  auto changed = write_delivery_file(d, Secret("A=2\n"));
  ASSERT_TRUE(changed && changed.value());
  EXPECT_EQ(slurp(d.path), "A=2\n");
  // No temporary file left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(d.path.parent_path()))
    files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST_F(DeliveryTest, MissingDirectoryIsAnErrorNamingIt) {
  auto r = load(deliver("billing", "path = \"" + (dir_ / "nope" / "x.env").string() + "\"\n"));
  ASSERT_TRUE(r.config) << errors_of(r);
  auto w = write_delivery_file(r.config->deliveries[0], Secret("A=1\n"));
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find((dir_ / "nope").string()), std::string::npos)
      << w.error().message;
}

class DeliveryServiceTest : public DeliveryTest {
 protected:
  void SetUp() override {
    DeliveryTest::SetUp();
    log_ = std::make_unique<Logger>(LogFormat::Text, log_file_);
  }
  void TearDown() override {
    std::fclose(log_file_);
    DeliveryTest::TearDown();
  }
  std::unique_ptr<DeliveryService> service(const Config& c, const Clock* clock = nullptr) {
    DeliveryService::Options o;
    o.splay = [](int) { return 0; };
    o.hook_timeout = std::chrono::seconds(120);
    return std::make_unique<DeliveryService>(
        c.deliveries,
        [this](const std::string&, const std::string&) -> InfisicalApi& { return inf_; },
        clock != nullptr ? *clock : clock_, *log_, &metrics_, o);
  }
  std::string log_text() {
    std::fflush(log_file_);
    std::rewind(log_file_);
    std::string s;
    char buf[512];
    while (std::fgets(buf, sizeof buf, log_file_)) s += buf;
    return s;
  }
  void advance(int seconds) { clock_.t += std::chrono::seconds(seconds); }

  FolderFake inf_;
  ManualClock clock_;
  std::FILE* log_file_ = std::tmpfile();
  std::unique_ptr<Logger> log_;
  Metrics metrics_;
};

TEST_F(DeliveryServiceTest, OneListingServesEveryDeliveryOfAPlace) {
  auto r = load(deliver("a") + deliver("b", "format = \"json\"\n") +
                "[[deliver]]\nname = \"c\"\nsecret_path = \"/other\"\nprivate_key_file = \"" +
                key_file_.string() + "\"\n");
  ASSERT_TRUE(r.config) << errors_of(r);
  inf_.publish("/billing", kKeyCanary, kSecretCanary, 1, &*sealer_);
  inf_.publish("/other", "K2", "S2", 1, &*sealer_);
  auto svc = service(*r.config);
  svc->tick();
  EXPECT_EQ(inf_.lists, 2);  // /billing once for a and b, /other once
  EXPECT_NE(slurp(dir_ / "run" / "a.env").find("SALESFORCE_CONSUMER_SECRET='"), std::string::npos);
  EXPECT_NE(slurp(dir_ / "run" / "b.json").find("\"generation\": 1"), std::string::npos);
  EXPECT_NE(slurp(dir_ / "run" / "c.env").find("'K2'"), std::string::npos);
  svc->tick();
  EXPECT_EQ(inf_.lists, 2);  // nothing due before poll_seconds
}

TEST_F(DeliveryServiceTest, HookRunsOnFirstRenderAndOncePerChangeDebounced) {
  const fs::path hook_log = dir_ / "hook.log";
  auto r = load(
      deliver("billing",
              "poll_seconds = 1\non_change_debounce_seconds = 5\non_change = [\"/bin/sh\", \"-c\", "
              "\"echo gen=$ECA_GENERATION >> " +
                  hook_log.string() + "; env >> " + (dir_ / "hook.env").string() + "\"]\n"));
  ASSERT_TRUE(r.config) << errors_of(r);
  inf_.publish("/billing", kKeyCanary, kSecretCanary, 1, &*sealer_);
  auto svc = service(*r.config);
  svc->tick();
  EXPECT_FALSE(fs::exists(hook_log));  // waits for the debounce
  advance(5);
  svc->tick();
  EXPECT_EQ(slurp(hook_log), "gen=1\n");
  advance(30);
  svc->tick();  // polled again, nothing changed: no hook
  advance(30);
  svc->tick();
  EXPECT_EQ(slurp(hook_log), "gen=1\n");
  // Two generations within the debounce: one run, for the last.
  inf_.publish("/billing", "3MVG9two", "S2", 2, &*sealer_);
  advance(1);
  svc->tick();
  inf_.publish("/billing", "3MVG9three", "S3", 3, &*sealer_);
  advance(2);
  svc->tick();
  advance(5);
  svc->tick();
  advance(10);
  svc->tick();
  EXPECT_EQ(slurp(hook_log), "gen=1\ngen=3\n");
  const std::string env = slurp(dir_ / "hook.env");
  EXPECT_NE(env.find("ECA_DELIVERY=billing"), std::string::npos);
  EXPECT_EQ(env.find(kKeyCanary), std::string::npos);
  EXPECT_EQ(env.find(kSecretCanary), std::string::npos);
  EXPECT_EQ(env.find("CANARY"), std::string::npos);
}

TEST_F(DeliveryServiceTest, FirstRenderOverAnUpToDateFileStillRunsTheHookOnce) {
  const fs::path hook_log = dir_ / "hook.log";
  auto r = load(deliver(
      "billing", "on_change_debounce_seconds = 0\non_change = [\"/bin/sh\", \"-c\", \"echo x >> " +
                     hook_log.string() + "\"]\n"));
  ASSERT_TRUE(r.config) << errors_of(r);
  inf_.publish("/billing", kKeyCanary, kSecretCanary, 1, &*sealer_);
  service(*r.config)->tick();
  struct stat before {
  }, after{};
  ASSERT_EQ(::stat((dir_ / "run" / "billing.env").c_str(), &before), 0);
  service(*r.config)->tick();  // a restarted agent: same file, first render of this process
  ASSERT_EQ(::stat((dir_ / "run" / "billing.env").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  EXPECT_EQ(slurp(hook_log), "x\nx\n");
}

TEST_F(DeliveryServiceTest, FailureKeepsThePreviousFileAndLagTurnsHealthRed) {
  auto r = load(deliver("billing", "source_interval_days = 1\n"));  // max lag: 12 h
  ASSERT_TRUE(r.config) << errors_of(r);
  inf_.publish("/billing", kKeyCanary, kSecretCanary, 1, &*sealer_);
  auto svc = service(*r.config);
  svc->tick();
  const std::string first = slurp(dir_ / "run" / "billing.env");
  KeyPair other = generate_key_pair();
  auto other_sealer = Sealer::from_public_key(other.public_key_b64);
  inf_.publish("/billing", "3MVG9new", "S-new", 2, &other_sealer.value());
  advance(60);
  svc->tick();
  EXPECT_EQ(slurp(dir_ / "run" / "billing.env"), first);
  const std::string log = log_text();
  EXPECT_NE(log.find(other_sealer->key_id()), std::string::npos) << log;
  EXPECT_NE(log.find("keeps its previous content"), std::string::npos) << log;
  EXPECT_EQ(metrics_.unhealthy_reason(clock_.now()), "");  // within the allowed lag
  EXPECT_NE(metrics_.render(clock_.now())
                .find("eca_rotator_delivery_error{delivery=\"billing\",step=\"open\"} 1"),
            std::string::npos);
  advance(13 * 3600);
  svc->tick();
  EXPECT_NE(metrics_.unhealthy_reason(clock_.now()).find("delivery billing"), std::string::npos);
  inf_.publish("/billing", "3MVG9new", "S-new", 2, &*sealer_);
  advance(60);
  svc->tick();
  EXPECT_EQ(metrics_.unhealthy_reason(clock_.now()), "");
  const std::string m = metrics_.render(clock_.now());
  EXPECT_NE(m.find("eca_rotator_delivery_generation{delivery=\"billing\"} 2"), std::string::npos)
      << m;
  for (const std::string& text : {log_text(), m}) {
    EXPECT_EQ(text.find(kKeyCanary), std::string::npos);
    EXPECT_EQ(text.find(kSecretCanary), std::string::npos);
    EXPECT_EQ(text.find("S-new"), std::string::npos);
  }
}

TEST_F(DeliveryServiceTest, UnreachableInfisicalKeepsTheFile) {
  auto r = load(deliver("billing"));
  ASSERT_TRUE(r.config) << errors_of(r);
  inf_.publish("/billing", kKeyCanary, kSecretCanary, 1, &*sealer_);
  auto svc = service(*r.config);
  svc->tick();
  const std::string first = slurp(dir_ / "run" / "billing.env");
  inf_.down = true;
  advance(60);
  svc->tick();
  EXPECT_EQ(slurp(dir_ / "run" / "billing.env"), first);
  EXPECT_NE(log_text().find("cannot read prod:/billing from Infisical"), std::string::npos)
      << log_text();
}

// A started service (the daemon) runs on_change on a thread of its own: a hook that takes
// long (a service restart) does not hold the polls, so another delivery still gets its
// new pair. The slow hook here waits for a file the test creates only at the end.
TEST_F(DeliveryServiceTest, ASlowHookDoesNotHoldThePollsOfOtherDeliveries) {
  const fs::path gate = dir_ / "gate";
  const fs::path hook_log = dir_ / "slow-hook.log";
  auto r = load(deliver("slow",
                        "poll_seconds = 1\non_change_debounce_seconds = 0\n"
                        "on_change = [\"/bin/sh\", \"-c\", \"while [ ! -e " +
                            gate.string() + " ]; do sleep 0.05; done; echo done >> " +
                            hook_log.string() + "\"]\n") +
                "[[deliver]]\nname = \"fast\"\nsecret_path = \"/other\"\npoll_seconds = 1\n"
                "private_key_file = \"" +
                key_file_.string() + "\"\n");
  ASSERT_TRUE(r.config) << errors_of(r);
  inf_.publish("/billing", kKeyCanary, kSecretCanary, 1, &*sealer_);
  inf_.publish("/other", "3MVG9first", "S1", 1, &*sealer_);
  SystemClock clock;
  auto svc = service(*r.config, &clock);
  svc->start();
  auto eventually = [](const std::function<bool()>& pred) {
    for (int i = 0; i < 200 && !pred(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return pred();
  };
  const fs::path fast = dir_ / "run" / "fast.env";
  EXPECT_TRUE(eventually([&] { return slurp(fast).find("'3MVG9first'") != std::string::npos; }));
  // The slow hook has started (first render) and is waiting; a new pair for "fast":
  inf_.publish("/other", "3MVG9second", "S2", 2, &*sealer_);
  EXPECT_TRUE(eventually([&] { return slurp(fast).find("'3MVG9second'") != std::string::npos; }))
      << "the polls waited for the slow hook";
  EXPECT_FALSE(fs::exists(hook_log)) << "the slow hook finished early: the test proves nothing";
  std::ofstream(gate) << "open";
  EXPECT_TRUE(eventually([&] { return fs::exists(hook_log); }));
  svc->stop();
  EXPECT_EQ(slurp(hook_log), "done\n") << "the hook ran once, for the first render";
}

}  // namespace

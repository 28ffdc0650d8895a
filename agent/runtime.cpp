#include "agent/runtime.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "agent/atomic_file.h"
#include "agent/folder_plan.h"
#include "agent/hooks.h"
#include "agent/schedule.h"
#include "agent/shared_listing.h"
#include "crypto/fingerprint.h"

namespace eca {

namespace {

CurlOptions curl_options(const Config& config) {
  CurlOptions o;
  o.proxy = config.agent.proxy;
  o.no_proxy = config.agent.no_proxy;
  return o;
}

// One line when requests start waiting for Infisical's rate limits, then at most one a
// minute: in a burst every request may wait a little, and a line each would drown the log.
RequestBudget::OnWait pacing_notice(Logger& log) {
  auto last = std::make_shared<std::atomic<long long>>(0);
  return [&log, last](std::chrono::milliseconds wait, const std::string& why) {
    const long long now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count();
    long long before = last->load();
    if (now_s - before < 60 || !last->compare_exchange_strong(before, now_s)) return;
    log.info("", "pacing",
             "waiting " + std::to_string(std::chrono::ceil<std::chrono::seconds>(wait).count()) +
                 " s before " + why +
                 " to stay within Infisical's rate limits; more waits "
                 "follow quietly while the burst lasts");
  };
}

// For the life of a batch with a progress line: every wait for Infisical's rate limits is
// logged as usual and also shown on the line, with how long it lasts. The observer it
// replaced (the same instance, so its once-a-minute memory survives) comes back after.
class WaitsOnProgress {
 public:
  WaitsOnProgress(RequestBudget& budget, RequestBudget::OnWait logged, Progress* progress)
      : budget_(budget), logged_(std::move(logged)), active_(progress != nullptr) {
    if (!active_) return;
    budget_.on_wait(
        [logged = logged_, progress](std::chrono::milliseconds wait, const std::string& why) {
          if (logged) logged(wait, why);
          progress->waiting(wait, "Infisical's rate limits");
        });
  }
  ~WaitsOnProgress() {
    if (active_) budget_.on_wait(logged_);
  }
  WaitsOnProgress(const WaitsOnProgress&) = delete;
  WaitsOnProgress& operator=(const WaitsOnProgress&) = delete;

 private:
  RequestBudget& budget_;
  RequestBudget::OnWait logged_;
  bool active_;
};

// A metadata service answers in milliseconds on the same host; one that does not
// answer within seconds is not there (the VM is not on that cloud).
CurlOptions metadata_options() {
  CurlOptions o;
  o.connect_timeout_s = 2;
  o.total_timeout_s = 5;
  o.low_speed_time_s = 5;
  o.metadata_service = true;
  return o;
}

CloudIdentitySettings cloud_settings(const InfisicalSettings& inf) {
  CloudIdentitySettings s;
  s.method = parse_auth_method(inf.auth_method).value_or(InfisicalAuthMethod::Universal);
  s.identity_id = inf.identity_id;
  s.region = inf.region;
  s.metadata_url = inf.metadata_url;
  if (!inf.resource.empty()) s.resource = inf.resource;
  s.token_file = inf.token_file;
  return s;
}

}  // namespace

Runtime::Runtime(const Config& config, Logger& log, Metrics* metrics)
    : config_(config),
      log_(log),
      transport_(curl_options(config)),
      metadata_transport_(metadata_options()),
      state_(config.agent.state_dir),
      journal_(config.agent.state_dir),
      metrics_(metrics != nullptr ? metrics : &own_metrics_) {
  Metrics* m = metrics_;
  transport_.on_request([m](const std::string& endpoint, int status, long new_connections) {
    m->count_request(endpoint, status, new_connections);
  });
  metadata_transport_.on_request(
      [m](const std::string& endpoint, int status, long new_connections) {
        m->count_request(endpoint, status, new_connections);
      });
  clock_ = make_clock(&test_clock_);
}

std::unique_ptr<Clock> make_clock(bool* is_test_clock) {
  const char* f = std::getenv("ECA_ROTATOR_TEST_CLOCK_FILE");
  const bool test = f != nullptr && *f != '\0';
  if (is_test_clock != nullptr) *is_test_clock = test;
  if (test) return std::make_unique<OffsetFileClock>(f);
  return std::make_unique<SystemClock>();
}

Runtime::~Runtime() {
  save_request_window();
}

namespace {

const char* const kRequestWindowFile = "infisical-requests";

// "CATEGORY MS" per answer, "paused MS": what RequestBudget::carry holds. A line that does
// not parse is skipped: the file only makes the first requests of a process more careful.
RequestBudget::Carry parse_request_window(const std::string& text, int& bad_lines) {
  RequestBudget::Carry c;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string what;
    long long ms = 0;
    if (!(words >> what >> ms) || ms <= 0) {
      ++bad_lines;
      continue;
    }
    bool known = what == "paused";
    if (known) c.paused_until_ms = ms;
    for (std::size_t i = 0; i < kRequestCategories && !known; ++i) {
      if (what == to_string(static_cast<RequestCategory>(i))) {
        c.answered_ms[i].push_back(ms);
        known = true;
      }
    }
    if (!known) ++bad_lines;
  }
  return c;
}

}  // namespace

void Runtime::save_request_window() {
  if (!infisical_budget_ || !infisical_budget_->limits().any() || !state_dir_held_) return;
  const RequestBudget::Carry c = infisical_budget_->carry();
  std::string text =
      "# eca-rotator: Infisical requests of the last rate-limit window (wall-clock ms), "
      "counted by the next agent process\n";
  for (std::size_t i = 0; i < kRequestCategories; ++i) {
    for (std::int64_t ms : c.answered_ms[i]) {
      text +=
          std::string(to_string(static_cast<RequestCategory>(i))) + " " + std::to_string(ms) + "\n";
    }
  }
  if (c.paused_until_ms > 0) text += "paused " + std::to_string(c.paused_until_ms) + "\n";
  // A hint for the next process, not a record: losing it on a power cut costs nothing.
  const auto path = std::filesystem::path(config_.agent.state_dir) / kRequestWindowFile;
  if (auto st = write_file_atomically(path, text, Durability::None); !st) {
    log_.warn("", "pacing", "cannot keep the last rate-limit window: " + st.error().message);
  }
}

long Runtime::infisical_rate_limited() const {
  return infisical_transport_ ? infisical_transport_->rate_limited() : 0;
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status StateDirLock::acquire(const std::filesystem::path& state_dir) {
  if (auto st = ensure_private_dir(state_dir); !st) return st;
  auto lock_path = state_dir / "lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return Error::permanent("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    return Error::permanent("another eca-rotator (pid " + holder + ") is using state directory " +
                            state_dir.string() +
                            "; only one agent may use a state directory at a time");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
  }
  return ok_status();
}

Status Runtime::open_state(bool take_lock) {
  if (take_lock) {
    if (auto st = lock_.acquire(config_.agent.state_dir); !st) return st;
  }
  state_dir_held_ = true;  // by this runtime, or by its caller (the daemon)
  if (auto st = state_.init(); !st) return st;
  return journal_.open();
}

InfisicalEndpoint Runtime::infisical_endpoint(const std::string& project_id,
                                              const std::string& environment) const {
  InfisicalEndpoint ie;
  ie.url = config_.infisical.url;
  ie.project_id = project_id;
  ie.environment = environment;
  ie.client_id = config_.infisical.client_id;
  ie.client_secret = config_.infisical.client_secret.clone();
  ie.tls = {config_.infisical.ca_file, config_.infisical.ca_dir,
            config_.infisical.pinned_public_key, config_.infisical.insecure_skip_verify};
  if (CloudIdentity* id = cloud_identity_.get(); id != nullptr) {
    ie.login_request = [id] { return id->login_request(); };
  }
  return ie;
}

std::unique_ptr<InfisicalClient> Runtime::infisical_client_for(const std::string& project_id,
                                                               const std::string& environment) {
  const Clock* clock = clock_.get();
  return std::make_unique<InfisicalClient>(*infisical_transport_,
                                           infisical_endpoint(project_id, environment),
                                           [clock] { return clock->now(); });
}

Status Runtime::build_clients() {
  const Clock* clock = clock_.get();
  RateLimits limits = config_.infisical.rate_limits;
  // Test seam: a shorter "minute", matching the sandbox's --rate-window-ms.
  if (const char* w = std::getenv("ECA_ROTATOR_TEST_RATE_WINDOW_MS"); w != nullptr && *w != '\0') {
    limits.window = std::chrono::milliseconds(std::max(1L, std::atol(w)));
  }
  infisical_budget_ = std::make_unique<RequestBudget>(limits);
  if (limits.any()) {
    const auto path = std::filesystem::path(config_.agent.state_dir) / kRequestWindowFile;
    std::ifstream in(path);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      int bad = 0;
      infisical_budget_->take_over(parse_request_window(text.str(), bad));
      if (bad > 0) {
        log_.warn("", "pacing",
                  path.string() + ": " + std::to_string(bad) +
                      " line(s) not understood and skipped (the file only carries the last "
                      "rate-limit window over to this process)");
      }
    }
  }
  pacing_ = pacing_notice(log_);
  infisical_budget_->on_wait(pacing_);
  infisical_transport_ = std::make_unique<BudgetedTransport>(transport_, *infisical_budget_);
  CloudIdentitySettings cloud = cloud_settings(config_.infisical);
  cloud_identity_.reset();
  if (cloud.method != InfisicalAuthMethod::Universal) {
    cloud_identity_ =
        std::make_unique<CloudIdentity>(metadata_transport_, std::move(cloud), CloudIdentity::Env{},
                                        [clock] { return clock->now(); });
  }
  infisical_ = infisical_client_for(config_.infisical.project_id, config_.infisical.environment);
  for (const auto& [name, c] : config_.connections) {
    SalesforceEndpoint se;
    se.name = name;
    se.my_domain_url = c.my_domain_url;
    se.api_version = c.api_version;
    se.client_id = c.client_id;
    se.auth = c.auth;
    se.client_secret = c.client_secret.clone();
    se.username = c.username;
    se.audience = c.audience;
    se.private_key_pem = c.private_key_pem.clone();
    se.tls = {c.ca_file, c.ca_dir, c.pinned_public_key, c.insecure_skip_verify};
    auto client = std::make_unique<SalesforceClient>(transport_, std::move(se),
                                                     [clock] { return clock->now(); });
    Logger& log = log_;
    client->on_notice([&log](const std::string& note) { log.warn("", "login", note); });
    Metrics* m = metrics_;
    client->on_rest_call([m, name = name] { m->count_salesforce_rest(name); });
    salesforce_[name] = std::move(client);
  }
  // A consumer-only config has no recipient: it opens, it never seals.
  if (config_.encryption.mode == EncryptionMode::SealedBox &&
      !config_.encryption.recipient_public_keys.empty()) {
    auto s = Sealer::from_public_keys(config_.encryption.recipient_public_keys);
    if (!s) return s.error();
    sealer_ = std::move(s.value());
  }
  return ok_status();
}

SalesforceClient* Runtime::salesforce(const std::string& connection) {
  auto it = salesforce_.find(connection);
  return it == salesforce_.end() ? nullptr : it->second.get();
}

RotationEngine Runtime::engine(
    std::function<std::string(const RotationSettings&, const Error&)> next_step) {
  EngineDeps d;
  d.config = &config_;
  d.infisical = infisical_.get();
  for (auto& [name, c] : salesforce_) d.salesforce[name] = c.get();
  d.sealer = sealer_ ? &*sealer_ : nullptr;
  d.journal = &journal_;
  d.state = &state_;
  d.clock = clock_.get();
  d.log = &log_;
  d.sleep = [](std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); };
  d.next_step = std::move(next_step);
  d.infisical_budget = infisical_budget_.get();
  return RotationEngine(std::move(d));
}

}  // namespace eca

namespace eca {

void Runtime::refresh_metrics() {
  std::vector<std::string> names;
  for (const auto& r : config_.rotations) {
    names.push_back(r.name);
    refresh_metrics(r);
  }
  metrics_->forget_rotations_except(names);
}

void Runtime::refresh_metrics(const RotationSettings& r) {
  {
    Metrics::RotationState ms;
    ms.auto_rotation = r.auto_rotation;
    std::optional<RotationRecord> record;
    if (auto rec = state_.load(r.name); rec && rec->has_value()) {
      record = std::move(rec.value());
      ms.last_success = record->last_rotated;
      ms.consecutive_failures = record->consecutive_failures;
      ms.generation = record->generation;
    }
    ms.next_due = planned_next(r, record, clock_->now());
    metrics_->set_rotation(r.name, ms);
  }
}

void Runtime::write_metrics_file() {
  if (config_.agent.metrics_file.empty()) return;
  std::lock_guard<std::mutex> lock(file_mu_);
  if (auto st = write_file_atomically(config_.agent.metrics_file, metrics_->render(clock_->now()),
                                      Durability::None);
      !st) {
    log_.warn("", "metrics", st.error().message);
  }
}

Result<ApiBudget> Runtime::salesforce_budget(const std::string& connection) {
  SalesforceClient* client = salesforce(connection);
  auto it = config_.connections.find(connection);
  if (client == nullptr || it == config_.connections.end()) {
    return Error::permanent("no connection named " + connection);
  }
  ApiBudget b;
  b.connection = connection;
  b.reserve_percent = it->second.api_reserve_percent;
  auto limits = client->limits();
  if (!limits) {
    // An exhausted budget may refuse the limits call itself: that answer is the reading.
    if (limits.error().code != "REQUEST_LIMIT_EXCEEDED") return limits.error();
    b.exhausted = true;
    metrics_->set_salesforce_daily_api(connection, 0, 0);
    return b;
  }
  b.max = limits->max;
  b.remaining = limits->remaining;
  metrics_->set_salesforce_daily_api(connection, b.remaining, b.max);
  return b;
}

std::vector<bool> Runtime::admit_within_salesforce_budget(
    const std::vector<const RotationSettings*>& todo, const std::vector<InFlight>& in_flight,
    std::vector<RotationOutcome>& outcomes) {
  std::vector<bool> admitted(todo.size(), true);
  std::map<std::string, std::vector<std::size_t>> by_connection;
  for (std::size_t i = 0; i < todo.size(); ++i) by_connection[todo[i]->connection].push_back(i);
  const TimePoint reset = next_utc_midnight(clock_->now());
  for (const auto& [connection, indexes] : by_connection) {
    auto budget = salesforce_budget(connection);
    if (!budget) {
      // A courtesy to the org, never a reason to leave a credential unrotated.
      log_.warn("", "budget",
                "could not read the daily API requests of Salesforce org " + connection + " (" +
                    budget.error().describe() + "); rotating without the budget check");
      continue;
    }
    std::size_t fit = budget->rotations_that_fit();
    // A rotation with a journal entry already changed Salesforce: rolling it forward is
    // never put off (and it is counted against what fits).
    std::vector<std::size_t> fresh;
    for (std::size_t i : indexes) {
      if (in_flight[i] == InFlight::Yes) {
        fit = fit > 0 ? fit - 1 : 0;
      } else {
        fresh.push_back(i);
      }
    }
    const std::size_t started = std::min(fit, fresh.size());
    if (started == fresh.size()) continue;
    const std::string detail = budget->deferral(started);
    for (std::size_t k = started; k < fresh.size(); ++k) {
      const std::size_t i = fresh[k];
      admitted[i] = false;
      outcomes[i].name = todo[i]->name;
      outcomes[i].result = RotationResult::Deferred;
      outcomes[i].detail = detail;
      outcomes[i].not_before = reset;
      log_.warn(todo[i]->name, "deferred", detail);
    }
  }
  // The budget gauges as read, even when nothing is started (no rotation reports them).
  write_metrics_file();
  return admitted;
}

std::vector<RotationOutcome> Runtime::rotate_batch(RotationEngine& engine,
                                                   const std::vector<const RotationSettings*>& todo,
                                                   const BatchOptions& options) {
  std::vector<RotationOutcome> outcomes(todo.size());
  // Which rotations have a journal entry, read once for the budget and the listing.
  std::vector<InFlight> in_flight(todo.size());
  for (std::size_t i = 0; i < todo.size(); ++i) {
    auto entry = journal_.read(todo[i]->name);
    in_flight[i] = !entry ? InFlight::Unknown : entry->has_value() ? InFlight::Yes : InFlight::No;
  }
  // Salesforce's daily API requests: what does not fit above the reserve waits a day.
  const std::vector<bool> admitted = admit_within_salesforce_budget(todo, in_flight, outcomes);
  std::vector<const RotationSettings*> to_start;
  // One listing of the secrets under them all, for each rotation's first look. A rotation
  // with a journal entry (or one that cannot be read) looks for itself: not counted in.
  std::vector<const RotationSettings*> fresh;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    if (!admitted[i]) continue;
    to_start.push_back(todo[i]);
    if (in_flight[i] == InFlight::No) fresh.push_back(todo[i]);
  }
  // Before any worker runs: parallel folder creation duplicates folders on Infisical.
  prepare_folders(*infisical_, to_start, log_);
  // Test seam: the benchmark's "before" figures, and the tests that show what it saves.
  if (const char* off = std::getenv("ECA_ROTATOR_TEST_NO_SHARED_LISTING"); off && *off == '1') {
    fresh.clear();
  }
  SharedListing listing(*infisical_, *clock_, log_, fresh);
  listing.take();
  engine.use_listing(&listing);
  struct Unset {
    RotationEngine& e;
    ~Unset() { e.use_listing(nullptr); }
  } unset{engine};
  // While this batch runs, its progress line also shows the rate-limit waits.
  WaitsOnProgress waits_shown(*infisical_budget_, pacing_, options.progress);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < todo.size(); i = next++) {
      const RotationSettings& r = *todo[i];
      if (!admitted[i]) {
        if (options.progress != nullptr) {
          options.progress->begin(r.name);
          options.progress->end(r.name, false);
        }
        continue;
      }
      if (options.stop != nullptr && options.stop->load()) {
        outcomes[i].name = r.name;
        outcomes[i].result = RotationResult::Deferred;
        outcomes[i].detail = "not started: shutting down";
        continue;
      }
      if (options.progress != nullptr) options.progress->begin(r.name);
      const auto started = std::chrono::steady_clock::now();
      outcomes[i] = engine.rotate(r, options.manual, options.only_if_due);
      report(r, outcomes[i],
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (options.progress != nullptr) {
        options.progress->end(r.name, outcomes[i].result == RotationResult::Failed);
      }
    }
  };
  const std::size_t n = std::min<std::size_t>(
      todo.size(), static_cast<std::size_t>(std::max(1, config_.agent.concurrency)));
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (listing.listings() > 0) {
    log_.info("", "inspect",
              std::to_string(listing.listings()) + " listing(s) of the Infisical secrets below " +
                  listing.parent() + " served the first look of " +
                  std::to_string(listing.served()) + " of " + std::to_string(fresh.size()) +
                  " rotations; the others listed their own folder");
  }
  return outcomes;
}

void Runtime::report(const RotationSettings& r, const RotationOutcome& o, double seconds) {
  const bool failed = o.result == RotationResult::Failed;
  if (o.result != RotationResult::Deferred) metrics_->observe_duration(r.name, seconds, !failed);
  refresh_metrics(r);
  write_metrics_file();
  const std::string& hook = failed ? config_.agent.on_failure : config_.agent.on_success;
  const bool worth_telling = failed || o.result == RotationResult::Rotated ||
                             o.result == RotationResult::Published ||
                             o.result == RotationResult::Revoked;
  if (hook.empty() || !worth_telling) return;
  std::map<std::string, std::string> env = {
      {"ECA_ROTATION", r.name},
      {"ECA_OUTCOME", result_name(o.result)},
      {"ECA_ERROR", failed ? o.detail : ""},
      {"ECA_ERROR_KIND", failed ? to_string(o.error.kind) : ""},
      {"ECA_GENERATION", std::to_string(o.generation)},
      {"ECA_KEY_FINGERPRINT", o.fingerprint.empty() ? "" : short_fingerprint(o.fingerprint)},
  };
  std::string why = run_hook(hook, env, std::chrono::seconds(config_.agent.hook_timeout_seconds));
  if (!why.empty()) log_.warn(r.name, "hook", (failed ? "on_failure: " : "on_success: ") + why);
}

}  // namespace eca

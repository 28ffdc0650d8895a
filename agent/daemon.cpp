#include "agent/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "agent/delivery.h"
#include "agent/delivery_clients.h"
#include "agent/exit_codes.h"
#include "agent/progress.h"
#include "agent/runtime.h"
#include "agent/schedule.h"
#include "agent/sd_notify.h"

namespace eca {
namespace {

constexpr int kMaxAttempts = 5;
constexpr auto kFirstRetry = std::chrono::seconds(60);
constexpr auto kDeferredRetry = std::chrono::minutes(5);

struct Plan {
  TimePoint next{};
  int attempts = 0;  // consecutive failed attempts in the current retry series
};

std::chrono::seconds backoff(int attempt) {
  // 1, 2, 4, 8 minutes, each +-20 % so agents sharing a config spread out.
  auto base = kFirstRetry * (1 << std::min(attempt - 1, 6));
  auto jitter_range = static_cast<uint32_t>(base.count() * 2 / 5 + 1);
  long jitter =
      static_cast<long>(randombytes_uniform(jitter_range)) - static_cast<long>(jitter_range / 2);
  return base + std::chrono::seconds(jitter);
}

// "2 min", "45 s", "3 h": how long until a retry, for the log line.
std::string in_words(std::chrono::seconds d) {
  const long s = std::max<long>(d.count(), 0);
  if (s < 90) return std::to_string(s) + " s";
  if (s < 90 * 60) return std::to_string((s + 30) / 60) + " min";
  return std::to_string((s + 1800) / 3600) + " h";
}

class Daemon {
 public:
  explicit Daemon(DaemonOptions o) : opts_(std::move(o)) {}
  int run();

 private:
  bool load(Config& out);
  void rebuild();
  void plan_all();
  // The local record says the pair was sealed for other keys than the config names now.
  bool recipients_changed(const RotationSettings& r);
  TimePoint scheduled_next(const RotationSettings& r, bool failed_series_over);
  // Writes a failure's planned retry into the rotation's record, where `status` and the
  // next-due metric read it (see planned_next).
  void remember_retry(const RotationSettings& r, const Plan& p);
  // The plan after a failed attempt (`attempts` failed attempts before it in this series),
  // and in `note` what the failure's log line says happens next.
  Plan after_failure(const RotationSettings& r, const Error& e, int attempts, std::string& note);
  void start_batch(std::vector<const RotationSettings*> todo);
  void finish_batch();
  void apply_pending_config();
  void arm_timer(TimePoint when);
  void status_line();
  // [[deliver]] entries are served on their own thread, rebuilt with the runtime.
  void start_deliveries();
  void stop_deliveries();

  DaemonOptions opts_;
  Logger log_;
  SdNotifier sd_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<Config> pending_config_;
  // Before rt_, so destroyed after it: the runtime writes the state directory (the last
  // rate-limit window) when it goes, under the lock, and counts into metrics_ until then.
  StateDirLock lock_;
  Metrics metrics_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<DeliveryClients> delivery_clients_;
  std::unique_ptr<DeliveryService> deliveries_;
  std::unique_ptr<Clock> metrics_clock_ = make_clock();  // survives reloads, unlike rt_
  std::unique_ptr<MetricsServer> metrics_server_;
  std::map<std::string, Plan> plan_;
  std::atomic<bool> stopping_{false};
  std::thread batch_;
  bool batch_running_ = false;
  std::vector<RotationOutcome> outcomes_;
  std::unique_ptr<Progress> progress_;  // run --once on a terminal: the pass's progress line
  // Decided by the batch's workers when a rotation fails (so its log line can say when it is
  // retried), applied by finish_batch.
  std::mutex decided_mu_;
  std::map<std::string, Plan> decided_;
  int done_fd_ = -1;
  int timer_fd_ = -1;
  int failures_ = 0;
  int deferrals_ = 0;  // run --once: 75 when nothing failed but something was deferred
};

bool Daemon::load(Config& out) {
  auto res = load_config(opts_.config_path);
  if (!res.config) {
    for (const auto& e : res.errors) log_.error("", "config", e.to_string());
    return false;
  }
  for (const auto& w : res.config->warnings) log_.warn("", "config", w);
  out = std::move(*res.config);
  return true;
}

void Daemon::rebuild() {
  stop_deliveries();
  rt_.reset();
  rt_ = std::make_unique<Runtime>(*config_, log_, &metrics_);
}

TimePoint Daemon::scheduled_next(const RotationSettings& r, bool failed_series_over) {
  const TimePoint now = rt_->clock().now();
  std::optional<RotationRecord> record;
  if (auto rec = rt_->state().load(r.name); rec) record = std::move(rec.value());
  std::optional<TimePoint> due;
  if (failed_series_over) {
    // Retries exhausted: the next day's slot, whatever retry was planned before.
    ScheduleInput in = schedule_input(record);
    in.last_failed = true;
    due = r.auto_rotation ? next_due(r, in, now) : std::nullopt;
  } else {
    due = planned_next(r, record, now);
  }
  return due ? *due : TimePoint::max();
}

void Daemon::remember_retry(const RotationSettings& r, const Plan& p) {
  // `run --once` plans nothing: its next pass is the retry. TimePoint::max() is "never".
  if (opts_.once || p.next == TimePoint::max()) return;
  auto rec = rt_->state().load(r.name);
  if (!rec || !rec->has_value() || (*rec)->consecutive_failures == 0) return;
  RotationRecord x = **rec;
  x.retry_at = p.next;
  // Tolerated: status and the metric then show the schedule's own next instant; the
  // daemon keeps to its plan either way.
  if (auto st = rt_->state().save(x); !st) {
    log_.warn(r.name, "schedule", "could not record the planned retry: " + st.error().describe());
  }
}

bool Daemon::recipients_changed(const RotationSettings& r) {
  auto rec = rt_->state().load(r.name);
  if (!rec || !rec->has_value() || (*rec)->generation == 0) return false;
  return (*rec)->sealed_for != encryption_label(rt_->sealer());
}

void Daemon::plan_all() {
  std::map<std::string, Plan> fresh;
  std::set<std::string> pending;
  for (const auto& p : rt_->journal().pending()) pending.insert(p);
  for (const auto& r : config_->rotations) {
    auto it = plan_.find(r.name);
    if (it != plan_.end() && it->second.attempts > 0) {
      fresh[r.name] = it->second;  // keep an ongoing retry series across reloads
      continue;
    }
    Plan p;
    // An interrupted rotation is completed at once, even with auto-rotation off; so is
    // publishing the pair again for a changed set of recipients (no rotation: the engine
    // re-seals the current pair when it is not due).
    const bool now = pending.count(r.name) != 0 || recipients_changed(r);
    p.next = now ? rt_->clock().now() : scheduled_next(r, false);
    fresh[r.name] = p;
  }
  plan_ = std::move(fresh);
}

void Daemon::arm_timer(TimePoint when) {
  itimerspec its{};
  const TimePoint now = rt_->clock().now();
  if (when == TimePoint::max()) when = now + std::chrono::hours(24 * 365);
  when -= now - std::chrono::system_clock::now();  // the agent's clock may be a test clock
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
  if (ns <= 0) ns = 1;
  its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  // CANCEL_ON_SET: a wall-clock change wakes us to re-plan instead of firing late or early.
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, nullptr);
}

Plan Daemon::after_failure(const RotationSettings& r, const Error& e, int attempts,
                           std::string& note) {
  const TimePoint now = rt_->clock().now();
  const std::string rotate_cmd = "`eca-rotator rotate " + r.name + "`";
  Plan p;
  p.attempts = attempts + 1;
  const bool retryable = e.kind == ErrorKind::Transient || e.kind == ErrorKind::Unknown;
  if (opts_.once) {
    // One pass: nothing is retried by this process.
    note = retryable ? "the next `eca-rotator run --once` tries again, or run " + rotate_cmd
                     : "fix the cause above; the next `eca-rotator run --once` tries again, "
                       "or run " +
                           rotate_cmd;
    p.next = now;
    return p;
  }
  if (retryable && p.attempts < kMaxAttempts) {
    auto wait = std::max<std::chrono::seconds>(backoff(p.attempts), e.retry_after);
    p.next = now + wait;
    note = "retrying in " + in_words(wait) + ", at " + format_local(p.next) + " (attempt " +
           std::to_string(p.attempts + 1) + " of " + std::to_string(kMaxAttempts) + ")";
    return p;
  }
  p.attempts = 0;
  p.next = scheduled_next(r, true);
  const std::string why = retryable
                              ? "retries exhausted (" + std::to_string(kMaxAttempts) + " attempts)"
                              : "not retried soon: this error needs a fix";
  if (p.next == TimePoint::max()) {
    note = why + "; no automatic retry: auto_rotation is off; run " + rotate_cmd;
  } else {
    note = why + "; next attempt " + format_local(p.next) + " (rotate_at), or run " + rotate_cmd +
           " once fixed";
  }
  return p;
}

void Daemon::start_batch(std::vector<const RotationSettings*> todo) {
  batch_running_ = true;
  {
    std::lock_guard<std::mutex> lock(decided_mu_);
    decided_.clear();
  }
  std::map<std::string, int> attempts;  // plan_ is the main thread's: the workers get a copy
  for (const auto* r : todo) attempts[r->name] = plan_[r->name].attempts;
  if (opts_.once) {
    // One pass run by hand shows how far it got; the daemon proper logs to the journal.
    ProgressOptions po;
    po.terminal = progress_wanted(STDERR_FILENO, config_->agent.log_format, opts_.no_progress);
    progress_ = std::make_unique<Progress>("rotating", todo.size(), po);
    log_.set_progress(progress_.get());
  }
  Progress* progress = progress_.get();
  batch_ = std::thread([this, todo = std::move(todo), attempts, progress] {
    RotationEngine engine =
        rt_->engine([this, &attempts](const RotationSettings& r, const Error& e) {
          std::string note;
          auto it = attempts.find(r.name);
          Plan p = after_failure(r, e, it == attempts.end() ? 0 : it->second, note);
          remember_retry(r, p);
          std::lock_guard<std::mutex> lock(decided_mu_);
          decided_[r.name] = p;
          return note;
        });
    Runtime::BatchOptions batch;
    batch.only_if_due = true;
    batch.progress = progress;
    batch.stop = &stopping_;
    outcomes_ = rt_->rotate_batch(engine, todo, batch);
    uint64_t one = 1;
    (void)!::write(done_fd_, &one, sizeof one);
  });
}

void Daemon::finish_batch() {
  batch_.join();
  batch_running_ = false;
  if (progress_) {
    progress_->finish();
    log_.set_progress(nullptr);
    progress_.reset();
  }
  const TimePoint now = rt_->clock().now();
  for (const auto& o : outcomes_) {
    const RotationSettings* r = config_->find_rotation(o.name);
    if (r == nullptr) continue;
    Plan& p = plan_[o.name];
    switch (o.result) {
      case RotationResult::Rotated:
      case RotationResult::Published:
      case RotationResult::NotDue:
      case RotationResult::Revoked:
        p.attempts = 0;
        p.next = scheduled_next(*r, false);
        log_.info(o.name, "schedule",
                  p.next == TimePoint::max() ? "auto-rotation is off; next rotation is manual"
                                             : "next rotation " + format_local(p.next));
        break;
      case RotationResult::Deferred:
        ++deferrals_;
        if (o.not_before) {  // the org's daily API budget: after its reset
          p.next = std::max(*o.not_before, now + kDeferredRetry);
          log_.info(o.name, "schedule",
                    "deferred for the org's daily API requests; next try " + format_local(p.next) +
                        (opts_.once ? " (this pass exits 75)" : ""));
          break;
        }
        p.next = now + kDeferredRetry;
        log_.info(o.name, "schedule",
                  opts_.once ? "deferred to the agent mid-rotation; the next `eca-rotator run "
                               "--once` checks again (this pass exits 75)"
                             : "deferred to the agent mid-rotation; checking again " +
                                   format_local(p.next));
        break;
      case RotationResult::Failed: {
        // The failure's own log line already said what happens next: keep to it.
        ++failures_;
        std::lock_guard<std::mutex> lock(decided_mu_);
        auto it = decided_.find(o.name);
        if (it != decided_.end()) {
          p = it->second;
        } else {
          std::string note;
          p = after_failure(*r, o.error, p.attempts, note);
          remember_retry(*r, p);
          log_.info(o.name, "schedule", note);
        }
        break;
      }
    }
  }
  if (pending_config_) apply_pending_config();
}

void Daemon::apply_pending_config() {
  stop_deliveries();  // its thread reads the old config's [[deliver]] entries
  config_ = std::move(pending_config_);
  log_.set_format(config_->agent.log_format);
  rebuild();
  if (auto st = rt_->build_clients(); !st) log_.error("", "reload", st.error().message);
  if (auto st = rt_->open_state(false); !st) log_.error("", "reload", st.error().message);
  plan_all();
  rt_->refresh_metrics();
  start_deliveries();
  log_.info("", "reload",
            "configuration reloaded (" + std::to_string(config_->rotations.size()) + " rotations)");
  sd_.notify("READY=1");
}

void Daemon::start_deliveries() {
  if (config_->deliveries.empty()) return;
  delivery_clients_ = std::make_unique<DeliveryClients>(*config_, *rt_);
  DeliveryService::Options o;
  o.hook_timeout = std::chrono::seconds(config_->agent.hook_timeout_seconds);
  DeliveryClients* clients = delivery_clients_.get();
  deliveries_ = std::make_unique<DeliveryService>(
      config_->deliveries,
      [clients](const std::string& project, const std::string& env) -> InfisicalApi& {
        return clients->get(project, env);
      },
      rt_->clock(), log_, &metrics_, o);
  // `run --once` delivers once, on this thread; the daemon polls on its own.
  if (opts_.once) {
    deliveries_->tick();
    failures_ += deliveries_->failing();
  } else {
    deliveries_->start();
  }
}

void Daemon::stop_deliveries() {
  deliveries_.reset();
  delivery_clients_.reset();
}

void Daemon::status_line() {
  if (!sd_.enabled()) return;
  std::string next_name;
  TimePoint next = TimePoint::max();
  int retrying = 0;
  for (const auto& [name, p] : plan_) {
    if (p.next < next) {
      next = p.next;
      next_name = name;
    }
    if (p.attempts > 0) ++retrying;
  }
  std::string s = "STATUS=" + std::to_string(plan_.size()) + " rotations";
  if (batch_running_) s += ", rotating";
  if (!next_name.empty() && next != TimePoint::max()) {
    s += ", next " + next_name + " at " + format_local(next);
  }
  if (retrying > 0) s += ", " + std::to_string(retrying) + " retrying";
  sd_.notify(s);
}

int Daemon::run() {
  config_ = std::make_unique<Config>();
  if (!load(*config_)) return 2;
  log_.set_format(config_->agent.log_format);
  apply_timezone(config_->agent.timezone);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // before any thread starts
  int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  done_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  timer_fd_ = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
  if (sig_fd < 0 || done_fd_ < 0 || timer_fd_ < 0) {
    log_.error("", "start", "cannot create signal/timer descriptors");
    return 2;
  }

  if (auto st = lock_.acquire(config_->agent.state_dir); !st) {
    log_.error("", "start", st.error().message);
    return 2;
  }
  rebuild();
  if (auto st = rt_->build_clients(); !st) {
    log_.error("", "start", st.error().message);
    return 2;
  }
  if (auto st = rt_->open_state(false); !st) {
    log_.error("", "start", st.error().message);
    return 2;
  }
  plan_all();
  start_deliveries();
  if (!Secret::all_locked()) {
    log_.warn("", "start",
              "could not lock secret memory into RAM (RLIMIT_MEMLOCK too low); secrets may be "
              "swapped out. Raise LimitMEMLOCK= or use encrypted swap");
  }
  rt_->refresh_metrics();
  rt_->write_metrics_file();
  if (!config_->agent.metrics_listen.empty()) {
    metrics_server_ = std::make_unique<MetricsServer>(metrics_, *metrics_clock_);
    if (std::string err = metrics_server_->start(config_->agent.metrics_listen); !err.empty()) {
      log_.error("", "start", err);
      return 2;
    }
    log_.info("", "start",
              "metrics on " + config_->agent.metrics_listen + " (port " +
                  std::to_string(metrics_server_->port()) + "): GET /metrics, GET /healthz");
  }
  log_.info("", "start",
            "eca-rotator running with " + std::to_string(config_->rotations.size()) +
                " rotation(s) and " + std::to_string(config_->deliveries.size()) +
                " delivery(ies) from " + opts_.config_path);
  sd_.notify("READY=1");

  auto watchdog = sd_.watchdog_interval();
  auto last_ping = std::chrono::steady_clock::now();
  for (;;) {
    const TimePoint now = rt_->clock().now();
    if (!batch_running_ && !stopping_) {
      std::vector<const RotationSettings*> todo;
      for (const auto& r : config_->rotations) {
        auto it = plan_.find(r.name);
        if (it != plan_.end() && it->second.next <= now) todo.push_back(&r);
      }
      if (!todo.empty()) {
        start_batch(std::move(todo));
      } else if (opts_.once) {
        break;
      }
      status_line();
    }
    if (stopping_ && !batch_running_) break;

    TimePoint wake = TimePoint::max();
    for (const auto& [name, p] : plan_) {
      // Rotations in the batch in flight keep their past due time until it ends (the
      // batch's own eventfd wakes us): arming the timer for them would spin.
      if (batch_running_ && p.next <= now) continue;
      wake = std::min(wake, p.next);
    }
    arm_timer(wake);
    int timeout_ms = -1;
    if (watchdog) timeout_ms = static_cast<int>(watchdog->count());
    // A test clock can jump without the kernel knowing: look again often.
    if (rt_->test_clock()) timeout_ms = timeout_ms < 0 ? 100 : std::min(timeout_ms, 100);

    pollfd fds[3] = {{sig_fd, POLLIN, 0}, {done_fd_, POLLIN, 0}, {timer_fd_, POLLIN, 0}};
    int n = ::poll(fds, 3, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    if (watchdog && std::chrono::steady_clock::now() - last_ping >= *watchdog) {
      sd_.notify("WATCHDOG=1");
      last_ping = std::chrono::steady_clock::now();
    }
    if (fds[2].revents != 0) {
      uint64_t ticks = 0;
      if (::read(timer_fd_, &ticks, sizeof ticks) < 0 && errno == ECANCELED) {
        log_.info("", "schedule", "the system clock was changed; re-planning");
        if (!batch_running_) plan_all();
      }
    }
    if (fds[1].revents != 0) {
      uint64_t v = 0;
      (void)!::read(done_fd_, &v, sizeof v);
      finish_batch();
      if (opts_.once && !stopping_) {
        // One pass: rotations that asked to be retried wait for the next pass.
        break;
      }
    }
    if (fds[0].revents != 0) {
      signalfd_siginfo si{};
      while (::read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
          sd_.notify("RELOADING=1");
          auto fresh = std::make_unique<Config>();
          if (!load(*fresh)) {
            log_.error("", "reload", "the new configuration is invalid; keeping the old one");
            sd_.notify("READY=1");
          } else if (fresh->agent.state_dir != config_->agent.state_dir) {
            log_.error("", "reload",
                       "state_dir cannot change on reload; restart the service to move it. "
                       "Keeping the old configuration");
            sd_.notify("READY=1");
          } else {
            // Rotations in flight keep the config they started with: swap between batches.
            pending_config_ = std::move(fresh);
            if (!batch_running_) apply_pending_config();
          }
        } else {
          if (!stopping_) {
            log_.info(
                "", "stop",
                batch_running_ ? "stopping: finishing the rotation steps in flight" : "stopping");
          }
          stopping_ = true;
          sd_.notify("STOPPING=1");
        }
      }
    }
  }
  if (batch_running_) {
    batch_.join();
    batch_running_ = false;
  }
  if (progress_) {
    progress_->finish();
    log_.set_progress(nullptr);
  }
  stop_deliveries();
  ::close(sig_fd);
  ::close(done_fd_);
  ::close(timer_fd_);
  if (!opts_.once) return 0;
  if (failures_ > 0) return kExitFailed;
  return deferrals_ > 0 ? kExitDeferred : 0;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  Daemon d(options);
  return d.run();
}

}  // namespace eca

#include "agent/cli.h"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/daemon.h"
#include "agent/delivery.h"
#include "agent/delivery_clients.h"
#include "agent/exec_command.h"
#include "agent/exit_codes.h"
#include "agent/logger.h"
#include "agent/login_summary.h"
#include "agent/progress.h"
#include "agent/rotation_engine.h"
#include "agent/runtime.h"
#include "agent/schedule.h"
#include "common/json.h"
#include "common/version.h"
#include "crypto/envelope.h"
#include "crypto/fingerprint.h"
#include "crypto/key_pair.h"

namespace eca {
namespace {

constexpr const char* kDefaultConfig = "/etc/eca-rotator/agent.toml";

constexpr const char* kHelp =
    R"(eca-rotator )" ECA_ROTATOR_VERSION
    R"( - rotates Salesforce External Client App credentials into Infisical

Usage: eca-rotator [--config FILE] COMMAND [OPTIONS]

Commands:
  run [--once [--no-progress]]
                           The daemon: rotate each rotation when due (interval_days at
                           rotate_at), retry failures with backoff, reload the config on
                           SIGHUP, stop cleanly on SIGTERM. Speaks systemd's notify protocol.
                           Also serves [[deliver]] entries: polls their source, writes the
                           opened pair to their file when it changes, runs on_change.
                           --once: complete interrupted rotations, rotate what is due,
                           deliver once, exit.
  rotate NAME... | --all [--no-progress] [--max-wait MINUTES]
                           Rotate now (dual-phase): stage, verify, promote, publish, then
                           revoke the pair before the previous one at the next rotation.
                           Counted as a manual rotation by the schedule. Paces itself
                           within Infisical's rate limits ([infisical] rate_limits);
                           --max-wait: the longest single wait for them (default 30); a
                           rotation that would wait longer fails before staging. The
                           progress line shows each wait and how long it lasts.
                           Reads each org's daily API requests first: rotations that
                           would dip into the connection's api_reserve_percent reserve
                           are deferred (exit 75) until the daily reset.
  status [--json] [--online] [--no-progress]
                           One row per rotation: app, key fingerprint, last rotated,
                           next due, state, last error. Reads the state directory only;
                           --online also checks that the pair Infisical holds is one
                           Salesforce accepts (by fingerprint; changes nothing), names the
                           Infisical server generation (v4 or v3 legacy) and exits 3
                           if any row shows a problem. --json: one object per rotation with
                           typed fields (RFC 3339 UTC times, null when unknown; see the
                           man page). The table ends with the login lines of validate.
  validate [--online] [--no-progress]
                           Check the config (main file and conf.d/*.toml drop-ins)
                           without contacting anything. Exit 0 only if it is valid.
                           Prints how each service is logged in to ([infisical.auth]
                           method: universal-auth, aws-iam, gcp-id-token, azure,
                           kubernetes, oidc, jwt) and each connection (client credentials
                           or JWT bearer), then "no static secret on this VM" when no
                           shared secret is stored for any of them.
                           --online also logs in to Infisical and each connection, finds
                           each app and consumer, refuses self-rotation, checks that the
                           Infisical project and environment exist, reads each secret
                           folder, and reports per rotation; per [[deliver]], the
                           generation that opens with its key, or why nothing would be
                           written (changes and writes nothing). Prints each org's daily
                           API requests left and the connection's api_reserve_percent
                           reserve.
  revoke-previous NAME [--yes]
                           Delete the previous (still valid) credential now, e.g. after a
                           leak. Refused (exit 1) unless there is a previous credential
                           and Infisical holds the current pair; a refusal is not recorded
                           as a rotation failure.
  apps --connection NAME [--snippet]
                           List the External Client Apps reachable through a connection
                           (app id, developer name, consumer count, label); --snippet
                           prints a ready [[rotation]] entry for each instead (none for
                           the connection's own app; consumer_id and the choices for
                           apps with several consumers). Ends with the org's daily API
                           requests left and the reserve.
  keygen --out FILE        Create an X25519 key pair for sealed values: FILE (private,
                           0600) and FILE.pub. Put the public key in [encryption].
  open --private-key-file FILE [ENVELOPE]
                           Decrypt a sealed value (argument or standard input) and print it.
  exec [--delivery NAME] [--watch] [--grace SECONDS] -- COMMAND [ARGS...]
                           Run COMMAND with a [[deliver]] entry's opened pair in its
                           environment (key_variable / secret_variable, by default
                           SALESFORCE_CONSUMER_KEY / SALESFORCE_CONSUMER_SECRET). --watch:
                           on a new generation, SIGTERM the command, wait the grace period
                           (default 10 s), SIGKILL, start it again. Signals are forwarded;
                           the exit status is the command's.

Options:
  --config FILE            Configuration file (default /etc/eca-rotator/agent.toml, or
                           $ECA_ROTATOR_CONFIG). Drop-ins are read from conf.d/ beside it.
  --no-progress            No live progress line. One is drawn on standard error only when
                           it is a terminal (not TERM=dumb) and log_format is "text", by
                           rotate with several rotations, run --once, validate --online
                           and status --online.
  --version                Print the version.
  --help                   Print this help.

Exit codes: 0  success
            1  something failed or was refused (each explained on stderr)
            2  usage or configuration error (nothing contacted)
            3  status --online: at least one row shows a problem
            75 rotate, run --once: nothing failed, but a rotation was deferred because
               another agent is mid-rotation, or because the Salesforce org's daily API
               requests left would dip into the connection's api_reserve_percent
               reserve; run it again later (after the daily reset)
)";

struct Args {
  std::string config;
  std::string command;
  std::vector<std::string> positional;
  bool all = false;
  int max_wait_minutes = 30;  // rotate: the longest single wait for Infisical's limits
  bool max_wait_given = false;
  bool json = false;
  bool once = false;
  bool online = false;
  bool yes = false;
  bool snippet = false;
  bool no_progress = false;
  std::string connection;
  std::string out;
  std::string private_key_file;
};

// The progress line for `total` items, or one that draws nothing (see progress_wanted()).
// While it lives, log lines clear it and draw it again after.
class ProgressScope {
 public:
  ProgressScope(Logger& log, const Config& cfg, const Args& a, const char* verb, std::size_t total)
      : log_(log), progress_(verb, total, options(cfg, a)) {
    log_.set_progress(&progress_);
  }
  ~ProgressScope() { finish(); }
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;
  Progress* operator->() { return &progress_; }
  void finish() {
    progress_.finish();
    log_.set_progress(nullptr);
  }

 private:
  static ProgressOptions options(const Config& cfg, const Args& a) {
    ProgressOptions o;
    o.terminal = progress_wanted(STDERR_FILENO, cfg.agent.log_format, a.no_progress);
    return o;
  }
  Logger& log_;
  Progress progress_;
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "eca-rotator: %s\nRun 'eca-rotator --help' for usage.\n", msg.c_str());
  return kExitUsage;
}

std::optional<Config> load_or_report(const std::string& path, Logger& log) {
  auto res = load_config(path);
  if (!res.config) {
    for (const auto& e : res.errors) std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    if (res.errors.empty()) std::fprintf(stderr, "error: %s: cannot load config\n", path.c_str());
    return std::nullopt;
  }
  for (const auto& w : res.config->warnings) log.warn("", "config", w);
  log.set_format(res.config->agent.log_format);
  apply_timezone(res.config->agent.timezone);
  return std::move(*res.config);
}

// The client's errors name the [infisical] keys; a delivery may set its own place.
std::string for_delivery(const Config& cfg, const DeliverySettings& d, std::string message) {
  auto point = [&](const std::string& key, const std::string& own, const std::string& base) {
    const std::string from = "[infisical] " + key;
    if (own == base) return;
    for (auto at = message.find(from); at != std::string::npos; at = message.find(from, at + 1))
      message.replace(at, from.size(), key + " of [[deliver]] \"" + d.name + "\"");
  };
  point("environment", d.environment, cfg.infisical.environment);
  point("project_id", d.project_id, cfg.infisical.project_id);
  return message;
}

// The connection's daily API requests as validate --online and apps show them.
std::string budget_line(Runtime& rt, const std::string& connection) {
  auto b = rt.salesforce_budget(connection);
  if (b) return b->line();
  return "salesforce org " + connection + ": daily API requests unknown (" + b.error().describe() +
         "); rotations go ahead without the budget check";
}

// validate --online: everything a rotation needs, checked without changing anything.
int validate_online(const Config& cfg, const Args& a, Logger& log) {
  Runtime rt(cfg, log);
  if (auto st = rt.build_clients(); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  ProgressScope progress(log, cfg, a, "checking",
                         1 + cfg.connections.size() + cfg.rotations.size() + cfg.deliveries.size());
  int problems = 0;
  std::string checking;  // what the progress line shows as current
  auto begin = [&](const std::string& what) {
    checking = what;
    progress->begin(checking);
  };
  // Each row ends the item begun for it.
  auto report = [&](const std::string& what, const std::string& result, bool ok) {
    if (!ok) ++problems;
    progress->interject([&] {
      std::printf("%-28s %-4s %s\n", what.c_str(), ok ? "ok" : "FAIL", result.c_str());
      std::fflush(stdout);
    });
    progress->end(checking, !ok);
  };
  begin("infisical");
  auto inf_login = rt.infisical().login();
  Result<std::string> routes = std::string();
  if (inf_login) routes = rt.infisical().detect_generation();
  report("infisical",
         !inf_login ? inf_login.error().describe()
         : !routes  ? routes.error().describe()
                    : "logged in by " + cfg.infisical.auth_method + " as " +
                         (cfg.infisical.client_id.empty() ? "identity " + cfg.infisical.identity_id
                                                          : cfg.infisical.client_id) +
                         "; server generation: " + *routes,
         inf_login.ok() && routes.ok());
  std::map<std::string, bool> conn_ok;
  for (const auto& [name, c] : cfg.connections) {
    begin("connection " + name);
    auto st = rt.salesforce(name)->authenticate();
    conn_ok[name] = st.ok();
    report(
        "connection " + name,
        st ? "token obtained from " + c.my_domain_url + " by " + rt.salesforce(name)->auth_summary()
           : st.error().describe(),
        st.ok());
    if (st) {
      const std::string line = budget_line(rt, name);
      progress->interject([&] {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
      });
    }
  }
  for (const auto& r : cfg.rotations) {
    std::string what = "rotation " + r.name;
    begin(what);
    if (!conn_ok[r.connection]) {
      report(what, "skipped: connection \"" + r.connection + "\" failed", false);
      continue;
    }
    auto s = rt.engine().survey(r, inf_login.ok());
    if (!s) {
      report(what, s.error().describe(), false);
      continue;
    }
    if (!s->infisical_read) {
      report(what, "Salesforce ok; Infisical not checked (login failed)", false);
      continue;
    }
    std::string note = "consumer " + s->consumer_id;
    if (s->consumers > 1 && r.consumer_id.empty()) {
      note += " (first of " + std::to_string(s->consumers) + "; set consumer_id to choose)";
    }
    if (s->held.exists && !s->held.ours && !r.adopt) {
      report(what,
             "secrets at " + r.secret_path +
                 " exist but were not written by "
                 "eca-rotator; set adopt = true to take them over",
             false);
      continue;
    }
    report(what, note + ", secrets at " + r.secret_path + " readable", true);
  }
  // What each delivery would write now: its place exists, its pair is there and opens
  // with this VM's key. Nothing is written.
  DeliveryClients clients(cfg, rt);
  for (const auto& d : cfg.deliveries) {
    const std::string what = "delivery " + d.name;
    begin(what);
    if (!inf_login) {
      report(what, "not checked (Infisical login failed)", false);
      continue;
    }
    InfisicalApi& infisical = clients.get(d.project_id, d.environment);
    if (auto st = infisical.probe_environment(); !st) {
      report(what, for_delivery(cfg, d, st.error().describe()), false);
      continue;
    }
    auto pair = fetch_pair(infisical, d);
    report(what,
           pair ? "generation " + std::to_string(pair->generation) + " (key " +
                      short_fingerprint(pair->fingerprint) + ") at " + d.environment + ":" +
                      d.secret_path +
                      (d.sealed ? " opens with " + d.private_key_source : " (plain values)") +
                      "; writes " + d.path.string()
                : pair.error().describe(),
           pair.ok());
  }
  return problems == 0 ? 0 : 1;
}

int cmd_validate(const Args& a) {
  Logger log;
  auto cfg = load_or_report(a.config, log);
  if (!cfg) return 2;
  const std::size_t nd = cfg->deliveries.size();
  const std::string deliveries =
      nd == 0 ? "" : ", " + std::to_string(nd) + (nd == 1 ? " delivery" : " deliveries");
  std::printf("%s: valid (%zu file%s, %zu connection%s, %zu rotation%s%s)\n", a.config.c_str(),
              cfg->files.size(), cfg->files.size() == 1 ? "" : "s", cfg->connections.size(),
              cfg->connections.size() == 1 ? "" : "s", cfg->rotations.size(),
              cfg->rotations.size() == 1 ? "" : "s", deliveries.c_str());
  for (const auto& line : login_summary(service_logins(*cfg))) std::printf("%s\n", line.c_str());
  if (a.online) return validate_online(*cfg, a, log);
  return 0;
}

int cmd_rotate(const Args& a) {
  Logger log;
  auto cfg = load_or_report(a.config, log);
  if (!cfg) return 2;
  std::vector<const RotationSettings*> todo;
  if (a.all) {
    for (const auto& r : cfg->rotations) todo.push_back(&r);
  } else {
    std::set<std::string> seen;
    for (const auto& name : a.positional) {
      const RotationSettings* r = cfg->find_rotation(name);
      if (r == nullptr) {
        std::string known;
        for (const auto& x : cfg->rotations) known += (known.empty() ? "" : ", ") + x.name;
        return usage_error("no rotation named \"" + name + "\" in " + a.config +
                           (known.empty() ? "" : " (configured: " + known + ")"));
      }
      if (seen.insert(name).second) todo.push_back(r);
    }
  }
  if (todo.empty()) return usage_error("rotate needs rotation names or --all");

  Runtime rt(*cfg, log);
  if (auto st = rt.build_clients(); !st) return usage_error(st.error().message);
  if (auto st = rt.open_state(); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 2;
  }
  rt.infisical_budget().set_max_wait(std::chrono::minutes(a.max_wait_minutes));
  RotationEngine engine = rt.engine();
  // A progress line for several rotations; one rotation's log lines say enough.
  Args shown = a;
  shown.no_progress = a.no_progress || todo.size() < 2;
  ProgressScope progress(log, *cfg, shown, "rotating", todo.size());
  Runtime::BatchOptions batch;
  batch.manual = true;
  batch.progress = progress.operator->();
  const std::vector<RotationOutcome> outcomes = rt.rotate_batch(engine, todo, batch);
  progress.finish();

  const TransportStats ts = rt.transport().stats();
  log.info("", "summary",
           std::to_string(ts.requests) + " HTTP requests, " + std::to_string(ts.new_connections) +
               " new connections for " + std::to_string(outcomes.size()) + " rotation(s)");
  int failed = 0;
  int deferred = 0;
  int over_budget = 0;  // deferred for the org's daily API requests
  for (const auto& o : outcomes) {
    failed += o.result == RotationResult::Failed ? 1 : 0;
    deferred += o.result == RotationResult::Deferred ? 1 : 0;
    over_budget += o.result == RotationResult::Deferred && o.not_before ? 1 : 0;
    std::printf("%-24s %-10s %s\n", o.name.c_str(), result_name(o.result), o.detail.c_str());
  }
  if (failed > 0) {
    std::fprintf(stderr, "%d of %zu rotation%s failed; see the errors above\n", failed,
                 outcomes.size(), outcomes.size() == 1 ? "" : "s");
    return kExitFailed;
  }
  if (deferred > 0) {
    // Not a success (nothing new was published) and not a failure (nothing is wrong):
    // cron can tell "run me again later" from both.
    const char* why =
        over_budget == deferred ? "the Salesforce org's daily API requests are kept for its other "
                                  "integrations; run the command again after the daily reset"
        : over_budget > 0       ? "for the Salesforce org's daily API requests or another agent "
                                  "mid-rotation; run the command again later"
                                : "another agent is mid-rotation; run the command again later";
    std::fprintf(stderr, "%d of %zu rotation%s deferred: %s (exit code %d)\n", deferred,
                 outcomes.size(), outcomes.size() == 1 ? "" : "s", why, kExitDeferred);
    return kExitDeferred;
  }
  return 0;
}

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

// status --online: which credential Infisical holds, by fingerprint (sealed values cannot
// be read back here), and whether Salesforce accepts it: the primary always does, the
// previous (Rotated) one until it expires or is revoked.
struct OnlineCheck {
  // "primary", "previous", "nothing-published", "unknown-to-salesforce", "check-failed"
  const char* result = "check-failed";
  std::string detail;
  // What makes `status --online` exit 3: a pair that will not authenticate, or a check
  // that could not be made (so nobody knows).
  bool problem() const {
    return std::strcmp(result, "unknown-to-salesforce") == 0 ||
           std::strcmp(result, "check-failed") == 0;
  }
};

OnlineCheck published_pair_check(Runtime& rt, const RotationSettings& r) {
  auto s = rt.engine().survey(r);
  if (!s) return {"check-failed", s.error().message};
  switch (s->published) {
    case Survey::Published::Nothing:
      return {"nothing-published", "nothing published by eca-rotator"};
    case Survey::Published::Primary:
      return {"primary", "published pair is the primary: authenticates"};
    case Survey::Published::Previous:
      return {"previous",
              "published pair is the previous one (valid until " +
                  (s->previous_expires.empty() ? std::string("revoked") : s->previous_expires) +
                  "): a rotation is unfinished"};
    case Survey::Published::Unknown:
      break;
  }
  return {"unknown-to-salesforce",
          "PROBLEM: the published pair is unknown to Salesforce and will not authenticate"};
}

std::string json_string_or_null(const std::string& s) {
  return s.empty() ? "null" : "\"" + json::escape(s) + "\"";
}

std::string json_time_or_null(const std::optional<TimePoint>& t) {
  return t ? "\"" + format_utc(*t) + "\"" : "null";
}

int cmd_status(const Args& a) {
  Logger log;
  auto cfg = load_or_report(a.config, log);
  if (!cfg) return 2;
  StateStore store(cfg->agent.state_dir);
  FileJournal journal(cfg->agent.state_dir);
  std::set<std::string> pending;
  for (const auto& p : journal.pending()) pending.insert(p);
  const TimePoint now = std::chrono::system_clock::now();

  struct Row {
    std::string name, app, key, last, next, state, error;
    OnlineCheck online;
    // The same facts for --json, typed; empty optionals are JSON null.
    std::optional<RotationRecord> record;
    std::optional<TimePoint> next_due;
  };
  std::vector<Row> rows;
  std::unique_ptr<Runtime> rt;
  if (a.online) {
    rt = std::make_unique<Runtime>(*cfg, log);
    if (auto st = rt->build_clients(); !st) return usage_error(st.error().message);
  }
  Args shown = a;
  shown.no_progress = a.no_progress || !a.online;  // offline, status only reads files
  ProgressScope progress(log, *cfg, shown, "checking", cfg->rotations.size());
  for (const auto& r : cfg->rotations) {
    Row row{r.name, r.app_id, "-", "never", "-", "due", "", {}, {}, {}};
    auto rec = store.load(r.name);
    if (!rec) {
      row.state = "error";
      row.error = rec.error().message;
    } else if (rec->has_value()) {
      const RotationRecord& x = **rec;
      row.record = x;
      if (!x.fingerprint.empty()) row.key = short_fingerprint(x.fingerprint);
      if (x.last_rotated)
        row.last = format_local(*x.last_rotated) + (x.last_manual ? " (manual)" : "");
      row.error = x.last_error;
    }
    auto due = planned_next(r, rec ? rec.value() : std::nullopt, now);
    if (!r.auto_rotation) {
      row.next = "manual only";
      row.state = "paused";
    } else if (due) {
      row.next_due = *due;
      row.next = *due <= now ? "now" : format_local(*due);
      row.state = *due <= now ? "due" : "ok";
    }
    if (!row.error.empty()) row.state = "failing";
    if (pending.count(r.name) != 0) row.state = "pending recovery";
    if (rt) {
      progress->begin(r.name);
      row.online = published_pair_check(*rt, r);
      progress->end(r.name, row.online.problem());
    }
    rows.push_back(std::move(row));
  }
  progress.finish();
  bool problems = false;
  for (const auto& r : rows) problems = problems || (a.online && r.online.problem());
  const int code = problems ? kExitStatusProblem : 0;
  if (a.json) {
    // Machine fields (documented in README.md and the man page): RFC 3339 UTC times, null
    // for what is unknown; the text table below keeps the display strings.
    std::string out = "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      const RotationRecord* x = r.record ? &*r.record : nullptr;
      const auto* rs = cfg->find_rotation(r.name);
      out +=
          std::string(i ? "," : "") + "{\"rotation\":\"" + json::escape(r.name) +
          "\",\"app_id\":\"" + json::escape(r.app) +
          "\",\"key_fingerprint\":" + json_string_or_null(x ? x->fingerprint : "") +
          ",\"generation\":" + (x && x->generation > 0 ? std::to_string(x->generation) : "null") +
          ",\"last_rotated\":" + json_time_or_null(x ? x->last_rotated : std::nullopt) +
          ",\"manual\":" + (x && x->last_rotated ? (x->last_manual ? "true" : "false") : "null") +
          ",\"last_attempt\":" + json_time_or_null(x ? x->last_attempt : std::nullopt) +
          ",\"auto_rotation\":" + (rs != nullptr && rs->auto_rotation ? "true" : "false") +
          ",\"next_due\":" + json_time_or_null(r.next_due) + ",\"state\":\"" +
          json::escape(r.state) +
          "\",\"consecutive_failures\":" + std::to_string(x ? x->consecutive_failures : 0) +
          ",\"last_error\":" + json_string_or_null(r.error);
      if (rs != nullptr && cfg->connections.count(rs->connection) != 0) {
        out += std::string(",\"connection_auth\":\"") +
               to_string(cfg->connections.at(rs->connection).auth) + "\"";
      }
      if (a.online) {
        out += std::string(",\"online\":{\"result\":\"") + r.online.result +
               "\",\"problem\":" + (r.online.problem() ? "true" : "false") + ",\"detail\":\"" +
               json::escape(r.online.detail) + "\"},\"infisical_server\":\"" +
               json::escape(rt->infisical().server_generation()) + "\"";
      }
      out += "}";
    }
    std::printf("%s]\n", out.c_str());
    return code;
  }
  std::size_t wn = 8, wa = 6, wl = 12, wx = 8;
  for (const auto& r : rows) {
    wn = std::max(wn, r.name.size());
    wa = std::max(wa, r.app.size());
    wl = std::max(wl, r.last.size());
    wx = std::max(wx, r.next.size());
  }
  std::printf("%s  %s  %s  %s  %s  %s  %s\n", pad("ROTATION", wn).c_str(), pad("APP", wa).c_str(),
              pad("KEY", 12).c_str(), pad("LAST ROTATED", wl).c_str(), pad("NEXT DUE", wx).c_str(),
              pad("STATE", 16).c_str(), "LAST ERROR");
  for (const auto& r : rows) {
    std::printf("%s  %s  %s  %s  %s  %s  %s\n", pad(r.name, wn).c_str(), pad(r.app, wa).c_str(),
                pad(r.key, 12).c_str(), pad(r.last, wl).c_str(), pad(r.next, wx).c_str(),
                pad(r.state, 16).c_str(), r.error.substr(0, 160).c_str());
    if (a.online) std::printf("%s  online: %s\n", pad("", wn).c_str(), r.online.detail.c_str());
  }
  for (const auto& line : login_summary(service_logins(*cfg))) std::printf("%s\n", line.c_str());
  if (rt) {
    std::printf("infisical server generation: %s\n", rt->infisical().server_generation().c_str());
  }
  if (problems) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "status --online: at least one rotation has a problem (see \"online:\" "
                 "above); exit code %d\n",
                 kExitStatusProblem);
  }
  return code;
}

int cmd_revoke_previous(const Args& a) {
  if (a.positional.size() != 1)
    return usage_error("revoke-previous needs exactly one rotation name");
  Logger log;
  auto cfg = load_or_report(a.config, log);
  if (!cfg) return 2;
  const RotationSettings* r = cfg->find_rotation(a.positional.front());
  if (r == nullptr) return usage_error("no rotation named \"" + a.positional.front() + "\"");
  if (!a.yes) {
    if (!isatty(STDIN_FILENO)) {
      return usage_error(
          "revoke-previous deletes a credential that consumers may still use; "
          "confirm with --yes");
    }
    std::printf(
        "Delete the previous credential of %s now? Anything still using it stops "
        "working. [y/N] ",
        r->name.c_str());
    std::fflush(stdout);
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::printf("nothing changed\n");
      return 0;
    }
  }
  Runtime rt(*cfg, log);
  if (auto st = rt.build_clients(); !st) return usage_error(st.error().message);
  if (auto st = rt.open_state(); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 2;
  }
  // A refused or failed revoke is not booked as a rotation failure (the engine's
  // revoke_previous leaves the record alone): the operator has the message and exit 1.
  auto o = rt.engine().revoke_previous(*r);
  std::printf("%-24s %-10s %s\n", o.name.c_str(), result_name(o.result), o.detail.c_str());
  return o.result == RotationResult::Revoked ? 0 : 1;
}

int cmd_apps(const Args& a) {
  if (a.connection.empty()) return usage_error("apps needs --connection NAME");
  Logger log;
  auto cfg = load_or_report(a.config, log);
  if (!cfg) return 2;
  if (cfg->connections.count(a.connection) == 0) {
    return usage_error("no connection named \"" + a.connection + "\" in " + a.config);
  }
  Runtime rt(*cfg, log);
  if (auto st = rt.build_clients(); !st) return usage_error(st.error().message);
  SalesforceClient* sf = rt.salesforce(a.connection);
  auto apps = sf->apps();
  if (!apps) {
    std::fprintf(stderr, "error: %s\n", apps.error().describe().c_str());
    return 1;
  }
  if (a.snippet) {
    for (const auto& app : *apps) {
      std::string slug;
      for (char ch : app.developer_name) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum)
          slug += c;
        else if (!slug.empty() && slug.back() != '-')
          slug += '-';
      }
      while (!slug.empty() && slug.back() == '-') slug.pop_back();
      if (slug.empty()) slug = "app";
      auto consumers = sf->consumers(app.id);
      bool own = false;
      if (consumers) {
        for (const auto& c : *consumers) own = own || c.key.equals(sf->endpoint().client_id);
      }
      if (own) {
        // Every rotate would refuse it: rotating it would cut off the agent's own access.
        std::printf(
            "# %s (%s) is the app connection \"%s\" authenticates with; it cannot "
            "rotate itself, so no [[rotation]] is printed for it.\n\n",
            app.developer_name.c_str(), app.id.c_str(), a.connection.c_str());
        continue;
      }
      std::printf(
          "[[rotation]]\nname = \"%s\"\ndescription = \"%s\"\nconnection = \"%s\"\n"
          "app_id = \"%s\"\n",
          slug.substr(0, 63).c_str(), json::escape(app.label).c_str(), a.connection.c_str(),
          app.id.c_str());
      if (!consumers) {
        std::printf("# consumers not listed (%s); with several, set consumer_id\n",
                    consumers.error().message.c_str());
      } else if (consumers->size() > 1) {
        // Without consumer_id the first is rotated with a warning; make the choice visible.
        std::printf("# this app has %zu consumers; keep the one to rotate:\n", consumers->size());
        for (const auto& c : *consumers) {
          std::printf("#   %s%s%s\n", c.id.c_str(), c.name.empty() ? "" : "  ", c.name.c_str());
        }
        std::printf("consumer_id = \"%s\"\n", consumers->front().id.c_str());
      }
      std::printf("interval_days = 30\nrotate_at = \"03:00\"\nsecret_path = \"/salesforce/%s\"\n\n",
                  slug.c_str());
    }
    std::printf("# %s\n", budget_line(rt, a.connection).c_str());
    return 0;
  }
  std::printf("%-20s  %-40s  %-9s  %s\n", "APP ID", "DEVELOPER NAME", "CONSUMERS", "LABEL");
  for (const auto& app : *apps) {
    auto consumers = sf->consumers(app.id);
    std::string count = consumers ? std::to_string(consumers->size()) : "?";
    std::string note;
    if (consumers) {
      for (const auto& c : *consumers) {
        if (c.key.equals(sf->endpoint().client_id)) note = "  (this connection's own app)";
      }
    }
    std::printf("%-20s  %-40s  %-9s  %s%s\n", app.id.c_str(), app.developer_name.c_str(),
                count.c_str(), app.label.c_str(), note.c_str());
  }
  std::printf("\n%s\n", budget_line(rt, a.connection).c_str());
  return 0;
}

int cmd_keygen(const Args& a) {
  if (a.out.empty()) return usage_error("keygen needs --out FILE (the private key's path)");
  KeyPair kp = generate_key_pair();
  if (auto st = write_key_pair(kp, a.out); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  std::printf(
      "private key: %s (keep it with the consumers of the secrets, not on this VM)\n"
      "public key:  %s.pub\n\n[encryption]\nmode = \"sealed-box\"\n"
      "recipient_public_key = \"%s\"\n",
      a.out.c_str(), a.out.c_str(), kp.public_key_b64.c_str());
  return 0;
}

int cmd_open(const Args& a) {
  std::string key_file = a.private_key_file;
  if (key_file.empty()) {
    if (const char* cred = std::getenv("CREDENTIALS_DIRECTORY"); cred != nullptr) {
      key_file = std::string(cred) + "/eca-private-key";
    }
  }
  if (key_file.empty()) return usage_error("open needs --private-key-file FILE");
  auto key = read_private_key(key_file);
  if (!key) {
    std::fprintf(stderr, "error: %s\n", key.error().message.c_str());
    return 2;
  }
  std::string envelope;
  if (!a.positional.empty()) {
    envelope = a.positional.front();
  } else {
    std::getline(std::cin, envelope);
  }
  while (!envelope.empty() &&
         (envelope.back() == '\n' || envelope.back() == '\r' || envelope.back() == ' ')) {
    envelope.pop_back();
  }
  auto plain = open_envelope(envelope, key.value());
  if (!plain) {
    std::fprintf(stderr, "error: %s\n", plain.error().message.c_str());
    return 1;
  }
  std::fwrite(plain->data(), 1, plain->size(), stdout);
  if (isatty(STDOUT_FILENO)) std::fputc('\n', stdout);
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  // This process holds credentials: no core dumps, no ptrace by other processes of the user.
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (sodium_init() < 0) {
    std::fputs("eca-rotator: libsodium failed to initialise\n", stderr);
    return 2;
  }
  Args a;
  if (const char* env = std::getenv("ECA_ROTATOR_CONFIG"); env != nullptr && *env != '\0') {
    a.config = env;
  } else {
    a.config = kDefaultConfig;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (a.command == "exec") {
      // exec's own options and the command it runs: never ours to interpret.
      return run_exec(a.config, std::vector<std::string>(argv + i, argv + argc));
    }
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      (void)name;
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (arg == "--version" || arg == "version") {
      std::printf("eca-rotator %s\n", ECA_ROTATOR_VERSION);
      return 0;
    }
    if (arg == "--config" || arg == "-c" || arg == "--connection" || arg == "--out" ||
        arg == "--private-key-file") {
      auto v = value(arg.c_str());
      if (!v) return usage_error(arg + " needs a value");
      if (arg == "--config" || arg == "-c") a.config = *v;
      if (arg == "--connection") a.connection = *v;
      if (arg == "--out") a.out = *v;
      if (arg == "--private-key-file") a.private_key_file = *v;
    } else if (arg.rfind("--config=", 0) == 0) {
      a.config = arg.substr(9);
    } else if (arg == "--max-wait") {
      auto v = value(arg.c_str());
      char* end = nullptr;
      const long minutes = v ? std::strtol(v->c_str(), &end, 10) : -1;
      if (!v || v->empty() || *end != '\0' || minutes < 0 || minutes > 1440) {
        return usage_error("--max-wait needs a number of minutes from 0 to 1440");
      }
      a.max_wait_minutes = static_cast<int>(minutes);
      a.max_wait_given = true;
    } else if (arg == "--all") {
      a.all = true;
    } else if (arg == "--snippet") {
      a.snippet = true;
    } else if (arg == "--yes" || arg == "-y") {
      a.yes = true;
    } else if (arg == "--online") {
      a.online = true;
    } else if (arg == "--once") {
      a.once = true;
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--no-progress") {
      a.no_progress = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage_error("unknown option " + arg);
    } else if (a.command.empty()) {
      a.command = arg;
    } else {
      a.positional.push_back(arg);
    }
  }
  if (a.command.empty()) return usage_error("no command given");
  if (a.command != "rotate" && a.max_wait_given) {
    return usage_error("--max-wait applies to rotate only");
  }
  if (a.command == "exec") return run_exec(a.config, {});
  if (a.command == "rotate") {
    if (a.all && !a.positional.empty())
      return usage_error("give rotation names or --all, not both");
    return cmd_rotate(a);
  }
  if (a.command == "run") return run_daemon(DaemonOptions{a.config, a.once, a.no_progress});
  if (a.command == "status") return cmd_status(a);
  if (a.command == "validate") return cmd_validate(a);
  if (a.command == "apps") return cmd_apps(a);
  if (a.command == "revoke-previous") return cmd_revoke_previous(a);
  if (a.command == "keygen") return cmd_keygen(a);
  if (a.command == "open") return cmd_open(a);
  return usage_error("unknown command \"" + a.command + "\"");
}

}  // namespace eca

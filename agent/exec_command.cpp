#include "agent/exec_command.h"

#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "agent/delivery.h"
#include "agent/delivery_clients.h"
#include "agent/runtime.h"
#include "crypto/fingerprint.h"

namespace eca {
namespace {

struct ExecOptions {
  std::string delivery;
  bool watch = false;
  int grace_seconds = 10;
  std::vector<std::string> argv;
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "error: %s\nusage: eca-rotator exec [--delivery NAME] [--watch] [--grace SECONDS] "
               "-- COMMAND [ARGS...]\n",
               why.c_str());
  return 2;
}

std::optional<ExecOptions> parse(const std::vector<std::string>& args, std::string& why) {
  ExecOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      o.argv.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "--watch") {
      o.watch = true;
    } else if ((a == "--delivery" || a == "--grace") && i + 1 < args.size()) {
      const std::string& v = args[++i];
      if (a == "--delivery")
        o.delivery = v;
      else if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 5)
        return why = "--grace needs a number of seconds", std::nullopt;
      else
        o.grace_seconds = std::stoi(v);
    } else {
      return why = "unknown exec option " + a + " (the command goes after --)", std::nullopt;
    }
  }
  if (o.argv.empty()) return why = "exec needs a command after --", std::nullopt;
  return o;
}

const DeliverySettings* pick(const Config& c, const std::string& name, std::string& why) {
  if (c.deliveries.empty())
    return why = "the config has no [[deliver]] entry to take the pair from", nullptr;
  if (name.empty()) {
    if (c.deliveries.size() == 1) return &c.deliveries.front();
    why = "the config has several [[deliver]] entries; choose one with --delivery:";
    for (const auto& d : c.deliveries) why += " " + d.name;
    return nullptr;
  }
  for (const auto& d : c.deliveries)
    if (d.name == name) return &d;
  return why = "no [[deliver]] named \"" + name + "\"", nullptr;
}

// "NAME=value\0" for execve. Not in Secret memory: that is wiped in a forked child
// (MADV_WIPEONFORK), so the child would exec with empty entries. The parent wipes this
// copy as soon as the child is forked (wipe_entry).
std::vector<char> env_entry(const std::string& name, const Secret& value) {
  std::vector<char> e(name.begin(), name.end());
  e.push_back('=');
  e.insert(e.end(), value.view().begin(), value.view().end());
  e.push_back('\0');
  return e;
}

void wipe_entry(std::vector<char>& e) {
  sodium_memzero(e.data(), e.size());
}

pid_t start_child(const ExecOptions& o, const DeliverySettings& d, const OpenedPair& p) {
  std::vector<char> key = env_entry(d.key_variable, p.key);
  std::vector<char> secret = env_entry(d.secret_variable, p.secret);
  std::vector<std::string> keep;
  const std::string kp = d.key_variable + "=", sp = d.secret_variable + "=";
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, kp.c_str(), kp.size()) != 0 &&
        std::strncmp(*e, sp.c_str(), sp.size()) != 0)
      keep.emplace_back(*e);
  std::vector<char*> envp, args;
  for (auto& s : keep) envp.push_back(s.data());
  envp.push_back(key.data());
  envp.push_back(secret.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv = o.argv;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // The failure messages are built here too: after fork() only async-signal-safe calls
  // (a delivery thread may hold a lock, e.g. stdio's, at the moment of the fork).
  const std::string cannot_run = "eca-rotator exec: cannot run " + o.argv[0] + ": ";
  const std::string not_found = cannot_run + "no such file or command on PATH\n";
  const std::string denied = cannot_run + "permission denied\n";
  const std::string failed = cannot_run + "the system refused to execute it\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvpe(args[0], args.data(), envp.data());
    const std::string& why = errno == ENOENT ? not_found : errno == EACCES ? denied : failed;
    (void)!::write(2, why.data(), why.size());
    ::_exit(127);
  }
  wipe_entry(key);
  wipe_entry(secret);
  return pid;
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// SIGTERM, up to `grace` for it to exit, then SIGKILL. Returns its wait status.
int stop_child(pid_t pid, int grace_seconds) {
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

}  // namespace

int run_exec(const std::string& config_path, const std::vector<std::string>& args) {
  std::string why;
  auto o = parse(args, why);
  if (!o) return usage(why);
  auto loaded = load_config(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 2;
  }
  const Config& config = *loaded.config;
  const DeliverySettings* d = pick(config, o->delivery, why);
  if (d == nullptr) return usage(why);
  Logger log;
  log.set_format(config.agent.log_format);
  Runtime rt(config, log);
  if (auto st = rt.build_clients(); !st) {
    log.error(d->name, "exec", st.error().message);
    return 2;
  }
  DeliveryClients clients(config, rt);
  InfisicalApi& infisical = clients.get(d->project_id, d->environment);
  auto pair = fetch_pair(infisical, *d);
  if (!pair) {
    log.error(d->name, "exec", pair.error().describe());
    return 1;
  }
  // Blocked before the child starts (it unblocks them): we forward them, it receives them.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sig_fd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  pid_t child = start_child(*o, *d, pair.value());
  if (child < 0) {
    log.error(d->name, "exec", std::string("cannot fork: ") + std::strerror(errno));
    return 1;
  }
  std::string fp = pair->fingerprint;
  long generation = pair->generation;
  pair = Error::permanent("");  // the pair now lives only in the child's environment
  for (;;) {
    pollfd pfd{sig_fd, POLLIN, 0};
    int n = ::poll(&pfd, 1, o->watch ? d->poll_seconds * 1000 : -1);
    if (n > 0) {
      signalfd_siginfo si{};
      if (::read(sig_fd, &si, sizeof si) != sizeof si) continue;
      if (si.ssi_signo != SIGCHLD) {
        ::kill(child, static_cast<int>(si.ssi_signo));
        continue;
      }
      int status = 0;
      if (::waitpid(child, &status, WNOHANG) == child) return exit_code(status);
      continue;
    }
    if (n < 0 || !o->watch) continue;
    auto next = fetch_pair(infisical, *d);
    if (!next) {
      log.warn(d->name, "exec",
               next.error().describe() + "; the command keeps running on generation " +
                   std::to_string(generation));
      continue;
    }
    if (next->fingerprint == fp) continue;
    log.info(d->name, "exec",
             "generation " + std::to_string(next->generation) + " (key " +
                 short_fingerprint(next->fingerprint) + "): restarting " + o->argv.front());
    stop_child(child, o->grace_seconds);
    child = start_child(*o, *d, next.value());
    fp = next->fingerprint;
    generation = next->generation;
  }
}

}  // namespace eca

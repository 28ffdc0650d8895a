// fleet-bench: the fleet-scale benchmark of eca-rotator (a program, not a test).
//
// Starts the sandbox (fake Salesforce org + fake Infisical) in this process over HTTPS
// with the test CA and a per-request latency, writes a config with N rotations, and runs
// the real agent binary as a user would:
//
//   burst     `run` with all N never rotated (first sight rotates at once), stopped with
//             SIGTERM once the sandbox has seen N promotes and N upserts; then
//             `rotate --all` (each ECA's second rotation: the steady state)
//   validate  `validate` of the N-rotation config, timed
//   idle      `run` with N rotations none of which is due: RSS, CPU and wake-ups over
//             --idle-seconds
//
// The agent is measured from outside: wait4() rusage of the child (user+sys CPU,
// ru_maxrss), /proc/<pid>/task/*/{schedstat,status} for the idle daemon, the sandbox's
// request logs for requests by service, and this process's own sockets for the TLS
// connections the agent opened to the fakes.
//
//   fleet-bench [--n 1000] [--concurrency 16] [--latency-ms 20] [--mode all]
//               [--idle-seconds 60] [--watchdog-sec 60] [--smoke] ...   (--help)
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crypto/fingerprint.h"
#include "crypto/key_pair.h"
#include "crypto/rsa_signer.h"
#include "tests/sandbox/sandbox.h"

#ifndef ECA_ROTATOR_BIN
#define ECA_ROTATOR_BIN "eca-rotator"
#endif
#ifndef ECA_BENCH_BUILD_TYPE
#define ECA_BENCH_BUILD_TYPE "unknown"
#endif

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// ---------------------------------------------------------------------------------------
// Options

struct Options {
  int n = 1000;
  int concurrency = 16;
  int latency_ms = 20;
  std::string mode = "all";  // all | burst | validate | idle
  int idle_seconds = 60;
  bool idle_seconds_set = false;
  int watchdog_sec = 60;  // as packaging/eca-rotator.service (WatchdogSec=60s); 0 = off
  int validate_runs = 5;
  int timeout_s = 1800;  // per agent run
  bool smoke = false;
  bool keep = false;
  bool jwt = false;  // the connection logs in by JWT bearer instead of client credentials
  std::string agent = ECA_ROTATOR_BIN;
  std::string work_dir = "/tmp";
  // Limit mode: the fake Infisical enforces the free plan's limits, the agent runs with
  // rate_limits = "infisical-cloud"; both count minutes of window_ms (time-scaled).
  bool limits = false;
  int window_ms = 60000;
};

constexpr const char* kUsage = R"(Usage: fleet-bench [OPTIONS]

Fleet-scale benchmark of eca-rotator against the in-process HTTPS sandbox.

  --n N               rotations (ECAs) in the config            (default 1000)
  --concurrency C     [agent] concurrency                       (default 16)
  --latency-ms MS     latency added by the fakes to every request (default 20)
  --mode MODE         all | burst | validate | idle             (default all)
  --idle-seconds S    idle daemon measurement window            (default 60; smoke: 2)
  --watchdog-sec S    the idle daemon runs under a systemd-style watchdog of S seconds
                      (WATCHDOG_USEC + a notify socket this program reads), as the shipped
                      unit does (WatchdogSec=60s); 0 = no watchdog   (default 60)
  --validate-runs K   how many times `validate` is timed        (default 5)
  --timeout S         give up on one agent run after S seconds  (default 1800)
  --agent PATH        the eca-rotator binary                    (default: the built one)
  --work-dir DIR      where the temporary config/state directory goes (default /tmp)
  --keep              keep the temporary directory (config, state, agent logs)
  --limits            limit mode: the fake Infisical enforces Infisical Cloud's free plan
                      (600 global, 200 read, 90 write, 120 secret per window), the agent
                      paces itself with rate_limits = "infisical-cloud"; prints the
                      limit table (bound, ratio, 429s, unpublished, promote->publish)
  --window-ms MS      limit mode: the window both sides count ("minute"; default 60000)
  --jwt               the connection logs in by JWT bearer (a generated RSA key; the fake
                      org verifies each assertion) instead of client credentials
  --smoke             CI smoke run: checks that everything runs and the table prints;
                      timings are printed but not judged
  --help

Exit status: 0 when every agent run did what it should (targets are reported, never
enforced), 1 when an agent run failed, 2 on a usage error.
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "fleet-bench: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

int int_arg(const std::string& flag, const char* value, int lo, int hi) {
  if (value == nullptr) usage_error(flag + " needs a value");
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi) {
    usage_error(flag + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<int>(v);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    auto str_arg = [&]() -> std::string {
      if (next == nullptr) usage_error(a + " needs a value");
      ++i;
      return next;
    };
    auto num = [&](int lo, int hi) {
      const int v = int_arg(a, next, lo, hi);
      ++i;
      return v;
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (a == "--n") {
      o.n = num(1, 100000);
    } else if (a == "--concurrency") {
      o.concurrency = num(1, 256);
    } else if (a == "--latency-ms") {
      o.latency_ms = num(0, 10000);
    } else if (a == "--idle-seconds") {
      o.idle_seconds = num(1, 86400);
      o.idle_seconds_set = true;
    } else if (a == "--watchdog-sec") {
      o.watchdog_sec = num(0, 86400);
    } else if (a == "--validate-runs") {
      o.validate_runs = num(1, 1000);
    } else if (a == "--timeout") {
      o.timeout_s = num(1, 86400);
    } else if (a == "--mode") {
      o.mode = str_arg();
      if (o.mode != "all" && o.mode != "burst" && o.mode != "validate" && o.mode != "idle") {
        usage_error("--mode must be all, burst, validate or idle");
      }
    } else if (a == "--agent") {
      o.agent = str_arg();
    } else if (a == "--work-dir") {
      o.work_dir = str_arg();
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--limits") {
      o.limits = true;
    } else if (a == "--window-ms") {
      o.window_ms = num(100, 3600000);
    } else if (a == "--jwt") {
      o.jwt = true;
    } else if (a == "--smoke") {
      o.smoke = true;
    } else {
      usage_error("unknown argument " + a);
    }
  }
  if (o.smoke && !o.idle_seconds_set) o.idle_seconds = 2;
  return o;
}

// ---------------------------------------------------------------------------------------
// Small helpers

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double tv_seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_private_file(const fs::path& p, const std::string& content) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + p.string());
  }
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string tail_lines(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  for (std::size_t i = 0; i <= lines && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

// ---------------------------------------------------------------------------------------
// Machine

struct CpuTimes {
  double busy_s = 0;  // all CPUs, everything but idle and iowait
};

CpuTimes machine_cpu() {
  CpuTimes t;
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  // user nice system idle iowait irq softirq steal
  t.busy_s = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
  return t;
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return tv_seconds(ru.ru_utime) + tv_seconds(ru.ru_stime);
}

std::string machine_description() {
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  long mem_mib = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGE_SIZE) / 1024;
  std::string load = read_file("/proc/loadavg");
  load = load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1));
  return std::to_string(std::thread::hardware_concurrency()) + " CPUs (" + model + "), " +
         std::to_string(mem_mib / 1024) + " GiB, Linux " + u.release + ", load " + load;
}

// ---------------------------------------------------------------------------------------
// The agent as a child process

struct Finished {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  double wall_s = 0;
  double user_s = 0;
  double sys_s = 0;
  long maxrss_kib = 0;
  long ctx_switches = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
  double cpu_s() const { return user_s + sys_s; }
  bool ok() const { return exit_code == 0 && !timed_out; }
  std::string how() const {
    if (timed_out) return "timed out";
    if (signal != 0) return std::string("killed by signal ") + strsignal(signal);
    return "exit " + std::to_string(exit_code);
  }
};

class AgentRun {
 public:
  AgentRun(const std::string& binary, const std::vector<std::string>& args,
           const std::map<std::string, std::string>& set_env, const fs::path& log_prefix)
      : out_path_(log_prefix.string() + ".out"), err_path_(log_prefix.string() + ".err") {
    // Everything the child needs is built before fork(): after it, in a process with
    // the sandbox's threads, only async-signal-safe calls are allowed.
    std::vector<std::string> argv_s{binary};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    static const std::set<std::string> kUnset = {"CREDENTIALS_DIRECTORY",
                                                 "NOTIFY_SOCKET",
                                                 "WATCHDOG_USEC",
                                                 "WATCHDOG_PID",
                                                 "JOURNAL_STREAM",
                                                 "ECA_ROTATOR_CONFIG",
                                                 "ECA_ROTATOR_TEST_CLOCK_FILE"};
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      std::string k = kv.substr(0, kv.find('='));
      if (kUnset.count(k) != 0 || set_env.count(k) != 0) continue;
      env_s.push_back(std::move(kv));
    }
    for (const auto& [k, v] : set_env) env_s.push_back(k + "=" + v);
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    const std::string out_s = out_path_.string();
    const std::string err_s = err_path_.string();

    started_ = Clock::now();
    started_wall_ = std::chrono::system_clock::now();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      const int in = open("/dev/null", O_RDONLY);
      const int out = open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0) _exit(127);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      // The sandbox's sockets must not leak into the agent.
      syscall(SYS_close_range, 3U, ~0U, 0U);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGPIPE, SIG_DFL);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0U));
  }
  ~AgentRun() {
    if (!reaped_ && pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0) close(pidfd_);
  }
  AgentRun(const AgentRun&) = delete;
  AgentRun& operator=(const AgentRun&) = delete;

  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }
  std::chrono::system_clock::time_point started_wall() const { return started_wall_; }
  std::string err_so_far() const { return read_file(err_path_); }

  // Whether the child has exited, waiting up to `timeout` for it.
  bool exited(milliseconds timeout) {
    if (reaped_) return true;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
    }
    // No pidfd (old kernel): look without reaping.
    siginfo_t si{};
    const auto deadline = Clock::now() + timeout;
    do {
      si.si_pid = 0;
      if (waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          si.si_pid == pid_) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(1));
    } while (Clock::now() < deadline);
    return false;
  }

  void signal_child(int sig) {
    if (!reaped_) kill(pid_, sig);
  }

  // Waits for the exit (SIGKILL after `timeout_s`), reaps it with wait4 and collects.
  Finished wait(int timeout_s) {
    Finished f;
    if (!exited(std::chrono::seconds(timeout_s))) {
      f.timed_out = true;
      kill(pid_, SIGKILL);
    }
    int status = 0;
    rusage ru{};
    while (wait4(pid_, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    const auto end = Clock::now();
    reaped_ = true;
    f.wall_s = seconds_between(started_, end);
    if (WIFEXITED(status)) f.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) f.signal = WTERMSIG(status);
    f.user_s = tv_seconds(ru.ru_utime);
    f.sys_s = tv_seconds(ru.ru_stime);
    f.maxrss_kib = ru.ru_maxrss;
    f.ctx_switches = ru.ru_nvcsw + ru.ru_nivcsw;
    f.out = read_file(out_path_);
    f.err = read_file(err_path_);
    return f;
  }

 private:
  fs::path out_path_;
  fs::path err_path_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  Clock::time_point started_;
  std::chrono::system_clock::time_point started_wall_;
};

// ---------------------------------------------------------------------------------------
// /proc/<pid> of a running agent, summed over its threads

struct TaskSample {
  long long run_ns = 0;    // time on CPU (schedstat), all live threads
  long long switches = 0;  // voluntary + nonvoluntary context switches, all live threads
  long rss_kib = 0;        // VmRSS
  long hwm_kib = 0;        // VmHWM
  long anon_kib = 0;       // RssAnon: the agent's own memory
  long file_kib = 0;       // RssFile: mapped files, mostly shared libraries
  long pss_kib = 0;        // Pss (smaps_rollup): shared pages divided among their users
  int threads = 0;
};

long status_field(const std::string& status, const std::string& name) {
  auto pos = status.find("\n" + name + ":");
  if (pos == std::string::npos) return 0;
  return std::strtol(status.c_str() + pos + name.size() + 2, nullptr, 10);
}

TaskSample sample_tasks(pid_t pid) {
  TaskSample s;
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string status = "\n" + read_file(base + "/status");
  s.rss_kib = status_field(status, "VmRSS");
  s.hwm_kib = status_field(status, "VmHWM");
  s.anon_kib = status_field(status, "RssAnon");
  s.file_kib = status_field(status, "RssFile");
  s.pss_kib = status_field("\n" + read_file(base + "/smaps_rollup"), "Pss");
  std::error_code ec;
  for (const auto& t : fs::directory_iterator(base + "/task", ec)) {
    ++s.threads;
    std::istringstream schedstat(read_file(t.path() / "schedstat"));
    long long run = 0;
    schedstat >> run;
    s.run_ns += run;
    const std::string ts = "\n" + read_file(t.path() / "status");
    s.switches += status_field(ts, "voluntary_ctxt_switches") +
                  status_field(ts, "nonvoluntary_ctxt_switches");
  }
  return s;
}

// Peak memory of a running agent, split into its own (anonymous) pages and mapped files
// (ru_maxrss counts both; the shared libraries alone are ~12 MiB of it).
class MemorySampler {
 public:
  explicit MemorySampler(pid_t pid) : pid_(pid) {
    thread_ = std::thread([this] {
      const std::string path = "/proc/" + std::to_string(pid_) + "/status";
      const std::string self = "\n" + read_file("/proc/self/status");
      const std::string bench_name = self.substr(0, self.find('\n', 1));  // "\nName:\t..."
      while (!stop_) {
        const std::string st = "\n" + read_file(path);
        // Until execve the child is a copy of this process: its memory is the bench's.
        if (st.size() > 1 && st.compare(0, bench_name.size(), bench_name) != 0) {
          const long anon = status_field(st, "RssAnon");
          if (anon > peak_anon_kib_) {
            peak_anon_kib_ = anon;
            file_at_peak_kib_ = status_field(st, "RssFile");
          }
          hwm_kib_ = std::max(hwm_kib_.load(), status_field(st, "VmHWM"));
        }
        std::this_thread::sleep_for(milliseconds(20));
      }
    });
  }
  ~MemorySampler() { stop(); }
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long peak_anon_kib() const { return peak_anon_kib_; }
  long file_at_peak_kib() const { return file_at_peak_kib_; }
  // VmHWM of the agent's own image (after execve), as of the last sample before it exited.
  long hwm_kib() const { return hwm_kib_; }

 private:
  pid_t pid_;
  std::atomic<bool> stop_{false};
  long peak_anon_kib_ = 0;
  long file_at_peak_kib_ = 0;
  std::atomic<long> hwm_kib_{0};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------
// TLS connections the agent opens to the fakes, seen from the server side: this
// process's connected sockets on the fakes' ports, sampled faster than any connection
// can live (each carries at least one request, which takes the configured latency).

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

class ConnectionCounter {
 public:
  ConnectionCounter(std::vector<int> server_ports, milliseconds interval)
      : ports_(std::move(server_ports)), interval_(interval) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ConnectionCounter() { stop(); }
  ConnectionCounter(const ConnectionCounter&) = delete;
  ConnectionCounter& operator=(const ConnectionCounter&) = delete;

  // New connections per server port since the start.
  std::map<int, long> stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      scan();  // one last look
    }
    return opened_;
  }
  long total() {
    long t = 0;
    for (const auto& [port, n] : stop()) t += n;
    return t;
  }

 private:
  void loop() {
    while (!stop_) {
      scan();
      std::this_thread::sleep_for(interval_);
    }
  }
  void scan() {
    std::set<std::pair<int, int>> now;  // (server port, client port)
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return;
    while (const dirent* e = readdir(dir)) {
      char* end = nullptr;
      const long fd = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
      sockaddr_storage local{};
      sockaddr_storage peer{};
      socklen_t len = sizeof local;
      if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
        continue;
      }
      const int lp = port_of(local);
      if (std::find(ports_.begin(), ports_.end(), lp) == ports_.end()) continue;
      len = sizeof peer;
      if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
        continue;  // the listening socket
      }
      now.emplace(lp, port_of(peer));
    }
    closedir(dir);
    for (const auto& c : now) {
      if (seen_.count(c) == 0) ++opened_[c.first];
    }
    seen_ = std::move(now);
  }

  std::vector<int> ports_;
  milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::set<std::pair<int, int>> seen_;
  std::map<int, long> opened_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------
// The bench

struct Requests {
  std::map<std::string, int> by_endpoint;
  std::map<std::string, int> failed_by_endpoint;  // status 0 or >= 400
  int sf = 0;
  int inf = 0;
  std::chrono::system_clock::time_point last_upsert{};
  int total() const { return sf + inf; }
};

struct BurstRow {
  std::string scenario;
  Finished run;
  double wall_s = 0;
  double ideal_s = 0;
  Requests req;
  long new_connections = 0;         // observed on the server side
  long agent_new_connections = -1;  // the agent's own count (rotate --all only)
  long agent_requests = -1;
  long peak_anon_kib = 0;  // sampled RssAnon peak of the agent
  long file_at_peak_kib = 0;
  long hwm_kib = 0;             // sampled VmHWM of the agent after execve
  double sandbox_cpu_s = 0;     // this process (the fakes, the sampler)
  double others_cpu_cores = 0;  // average cores used by everything else meanwhile
  int rotated = 0;
  // Limit mode.
  int answered_429 = 0;
  int unpublished = 0;  // promoted at Salesforce, Infisical holds another pair
  int next_day = 0;     // deferred for the org's daily API requests
  double longest_promote_to_publish_s = 0;
  bool ok = false;
  std::string problem;
};

struct IdleResult {
  bool ok = false;
  std::string problem;
  double window_s = 0;
  TaskSample before;
  TaskSample after;
  int requests = 0;
  long watchdog_pings = 0;
  Finished run;
};

struct ValidateResult {
  bool ok = false;
  std::string problem;
  std::vector<double> wall_ms;
  std::vector<double> cpu_ms;
  long maxrss_kib = 0;
  long bench_rss_kib = 0;  // this process's VmRSS when it forked the last run
  double others_cpu_cores = 0;
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}
  int run();

 private:
  void setup();
  void write_config();
  std::vector<std::string> with_config(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--config", config_.string()});
    return args;
  }
  Requests requests() const;
  void clear_logs();
  std::map<std::string, std::string> agent_env() const;
  void watch_publishes();
  void finish_limit_row(BurstRow& row);
  void print_limit_table(const std::vector<BurstRow>& rows) const;
  BurstRow burst_daemon();
  BurstRow rotate_all(const std::string& scenario);
  ValidateResult validate();
  IdleResult idle();
  void print_burst_table(const std::vector<BurstRow>& rows) const;
  void print_idle(const IdleResult& r) const;
  void print_validate(const ValidateResult& v) const;
  void print_targets(const std::vector<BurstRow>& rows, const ValidateResult* v,
                     const IdleResult* idle) const;
  milliseconds scan_interval() const { return milliseconds(std::clamp(o_.latency_ms / 4, 1, 5)); }

  Options o_;
  std::unique_ptr<eca::sandbox::Sandbox> sb_;
  fs::path dir_;
  fs::path config_;
  std::string public_key_;
  int run_counter_ = 0;
  bool all_rotated_ = false;
  // Promote and publish times per ECA (observers of the fakes, under their state lock).
  std::mutex times_mu_;
  std::map<std::string, std::chrono::system_clock::time_point> promoted_at_;  // by app id
  double longest_gap_s_ = 0;
  std::atomic<int> publishes_{0};  // upserts that wrote a rotation's key (not the check)
  int rate_limited_before_ = 0;
};

void Bench::setup() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;  // many agent connections, many server threads
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  signal(SIGPIPE, SIG_IGN);

  std::string tmpl = (fs::path(o_.work_dir) / "fleet-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp in " + o_.work_dir + ": " + std::strerror(errno));
  }
  dir_ = tmpl;

  const auto t0 = Clock::now();
  eca::sandbox::SandboxOptions so;
  so.https = true;
  so.latency = milliseconds(o_.latency_ms);
  so.target_apps = o_.n;
  if (o_.limits) {
    so.infisical_rate_limits = eca::sandbox::InfisicalRateLimits::infisical_cloud_free();
    so.infisical_rate_limits.window = milliseconds(o_.window_ms);
  }
  sb_ = std::make_unique<eca::sandbox::Sandbox>(so);
  watch_publishes();
  std::fprintf(stderr,
               "fleet-bench: sandbox up (HTTPS, %d ECAs, %d ms latency) in %.1f s; work dir %s\n",
               o_.n, o_.latency_ms, seconds_between(t0, Clock::now()), dir_.c_str());
  if (o_.concurrency * 2 > 32) {
    std::fprintf(
        stderr,
        "fleet-bench: warning: the fakes serve 32 connections each (ServerOptions::threads);"
        " concurrency %d may queue at the fakes\n",
        o_.concurrency);
  }

  eca::KeyPair kp = eca::generate_key_pair();
  public_key_ = kp.public_key_b64;
  write_private_file(dir_ / "inf-secret", sb_->infisical_client_secret());
  if (o_.jwt) {
    const eca::Secret key = eca::generate_rsa_private_key_pem(2048);
    write_private_file(dir_ / "sf-jwt.key", std::string(key.view()));
    sb_->enable_connection_jwt(key);
  } else {
    write_private_file(dir_ / "sf-secret", sb_->connection_app().primary().secret);
  }
  write_config();
}

void Bench::write_config() {
  std::string t;
  t.reserve(static_cast<std::size_t>(o_.n) * 200 + 2048);
  t += "# fleet-bench: " + std::to_string(o_.n) + " rotations against the HTTPS sandbox\n";
  t += "[agent]\nstate_dir = \"" + (dir_ / "state").string() +
       "\"\nconcurrency = " + std::to_string(o_.concurrency) + "\n\n";
  t += "[infisical]\nurl = \"" + sb_->infisical().base_url() + "\"\nproject_id = \"" +
       sb_->project_id() + "\"\nenvironment = \"prod\"\nca_file = \"" + sb_->ca_file() + "\"\n" +
       (o_.limits ? "rate_limits = \"infisical-cloud\"\n\n" : "\n");
  t += "[infisical.auth]\nmethod = \"universal-auth\"\nclient_id = \"" +
       sb_->infisical_client_id() + "\"\nclient_secret_file = \"" + (dir_ / "inf-secret").string() +
       "\"\n\n";
  t += "[encryption]\nmode = \"sealed-box\"\nrecipient_public_key = \"" + public_key_ + "\"\n\n";
  t += "[connections.sandbox]\nmy_domain_url = \"" + sb_->salesforce().base_url() +
       "\"\nclient_id = \"" + sb_->connection_app().primary().key + "\"\nca_file = \"" +
       sb_->ca_file() + "\"\n";
  if (o_.jwt) {
    t += "auth = \"jwt_bearer\"\nusername = \"" + std::string(eca::sandbox::Sandbox::kJwtUsername) +
         "\"\nprivate_key_file = \"" + (dir_ / "sf-jwt.key").string() + "\"\n";
  } else {
    t += "client_secret_file = \"" + (dir_ / "sf-secret").string() + "\"\n";
  }
  const auto& apps = sb_->target_apps();
  for (std::size_t i = 0; i < apps.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    t += "\n[[rotation]]\nname = \"app-" + n + "\"\nconnection = \"sandbox\"\napp_id = \"" +
         apps[i].id + "\"\ninterval_days = 30\nrotate_at = \"03:00\"\nsecret_path = \"/fleet/app-" +
         n + "\"\n";
  }
  config_ = dir_ / "agent.toml";
  write_private_file(config_, t);
}

Requests Bench::requests() const {
  Requests r;
  auto add = [&r](const eca::sandbox::RequestLog& log, int& service_total) {
    for (const auto& e : log.entries()) {
      ++r.by_endpoint[e.endpoint];
      ++service_total;
      if (e.status == 0 || e.status >= 400) ++r.failed_by_endpoint[e.endpoint];
      if (e.endpoint == "inf.upsert" && e.status == 200)
        r.last_upsert = std::max(r.last_upsert, e.when);
    }
  };
  add(sb_->salesforce().log(), r.sf);
  add(sb_->infisical().log(), r.inf);
  return r;
}

void Bench::clear_logs() {
  sb_->salesforce().clear_log();
  sb_->infisical().clear_log();
  std::lock_guard lock(times_mu_);
  promoted_at_.clear();
  longest_gap_s_ = 0;
  publishes_ = 0;
  rate_limited_before_ = sb_->infisical().rate_limited_count();
}

std::map<std::string, std::string> Bench::agent_env() const {
  if (!o_.limits) return {};
  return {{"ECA_ROTATOR_TEST_RATE_WINDOW_MS", std::to_string(o_.window_ms)}};
}

// A publish is an upsert that writes the rotation's key secret into /fleet/app-N; its gap
// is the time since app N's last promote.
void Bench::watch_publishes() {
  sb_->salesforce().on_credential_change([this](const eca::sandbox::CredentialChange& c) {
    if (c.what != "promote") return;
    std::lock_guard lock(times_mu_);
    promoted_at_[c.app_id] = std::chrono::system_clock::now();
  });
  sb_->infisical().on_write([this](const eca::sandbox::WriteEvent& e) {
    const bool key = std::any_of(e.written.begin(), e.written.end(), [](const auto& w) {
      return w.first == eca::sandbox::Sandbox::kKeyName;
    });
    if (!key || e.path.rfind("/fleet/app-", 0) != 0) return;
    ++publishes_;
    const auto index = static_cast<std::size_t>(std::atol(e.path.c_str() + 11) - 1);
    if (index >= sb_->target_apps().size()) return;
    std::lock_guard lock(times_mu_);
    auto p = promoted_at_.find(sb_->target_apps()[index].id);
    if (p == promoted_at_.end()) return;
    longest_gap_s_ = std::max(
        longest_gap_s_,
        std::chrono::duration<double>(std::chrono::system_clock::now() - p->second).count());
  });
}

// `run` with every rotation due at once; SIGTERM once N promotes and N upserts are done.
BurstRow Bench::burst_daemon() {
  BurstRow row;
  row.scenario = "run (burst)";
  clear_logs();
  const CpuTimes m0 = machine_cpu();
  const double self0 = self_cpu_s();
  ConnectionCounter conns({sb_->salesforce().port(), sb_->infisical().port()}, scan_interval());
  AgentRun agent(o_.agent, with_config({"run"}), agent_env(),
                 dir_ / ("agent-" + std::to_string(++run_counter_) + "-run-burst"));
  MemorySampler mem(agent.pid());
  const auto deadline = agent.started() + std::chrono::seconds(o_.timeout_s);
  bool done = false;
  bool exited_early = false;
  while (Clock::now() < deadline) {
    if (agent.exited(milliseconds(25))) {
      exited_early = true;
      break;
    }
    // Publishes, not upserts: the write check before staging is an upsert too.
    if (sb_->salesforce().log().count("sf.promote", 200) >= o_.n && publishes_.load() >= o_.n) {
      done = true;
      break;
    }
  }
  const Clock::time_point seen_done = Clock::now();
  if (done) agent.signal_child(SIGTERM);
  row.run = agent.wait(done ? 120 : 1);
  mem.stop();
  row.peak_anon_kib = mem.peak_anon_kib();
  row.file_at_peak_kib = mem.file_at_peak_kib();
  row.hwm_kib = mem.hwm_kib();
  row.new_connections = conns.total();
  row.sandbox_cpu_s = self_cpu_s() - self0;
  const CpuTimes m1 = machine_cpu();
  row.req = requests();
  // Wall: from the start of the process to the last successful upsert answer (the fakes'
  // clock is the real clock; nothing moves it here).
  if (done && row.req.last_upsert > agent.started_wall()) {
    row.wall_s = std::chrono::duration<double>(row.req.last_upsert - agent.started_wall()).count();
  } else {
    row.wall_s = seconds_between(agent.started(), seen_done);
  }
  const double span = row.run.wall_s;
  row.others_cpu_cores =
      std::max(0.0, (m1.busy_s - m0.busy_s) - row.sandbox_cpu_s - row.run.cpu_s()) / span;
  row.rotated = std::min(sb_->salesforce().log().count("sf.promote", 200),
                         sb_->infisical().log().count("inf.upsert", 200));
  row.ideal_s = static_cast<double>(row.req.total()) * o_.latency_ms / 1000.0 / o_.concurrency;
  if (!done) {
    row.problem = exited_early ? "the daemon exited early (" + row.run.how() + ")"
                               : "the daemon did not finish N rotations within --timeout";
  } else if (!row.run.ok()) {
    row.problem = "the daemon did not stop cleanly on SIGTERM (" + row.run.how() + ")";
  } else if (row.req.failed_by_endpoint.size() > 1 ||
             (row.req.failed_by_endpoint.size() == 1 &&
              row.req.failed_by_endpoint.count("inf.upsert") == 0)) {
    // The only expected failures are first upserts into folders that do not exist yet.
    row.problem = "unexpected failed requests (see the breakdown)";
  }
  row.ok = row.problem.empty();
  if (row.ok) all_rotated_ = true;
  return row;
}

BurstRow Bench::rotate_all(const std::string& scenario) {
  BurstRow row;
  row.scenario = scenario;
  clear_logs();
  const CpuTimes m0 = machine_cpu();
  const double self0 = self_cpu_s();
  ConnectionCounter conns({sb_->salesforce().port(), sb_->infisical().port()}, scan_interval());
  AgentRun agent(o_.agent, with_config({"rotate", "--all"}), agent_env(),
                 dir_ / ("agent-" + std::to_string(++run_counter_) + "-rotate-all"));
  MemorySampler mem(agent.pid());
  row.run = agent.wait(o_.timeout_s);
  mem.stop();
  row.peak_anon_kib = mem.peak_anon_kib();
  row.file_at_peak_kib = mem.file_at_peak_kib();
  row.hwm_kib = mem.hwm_kib();
  row.new_connections = conns.total();
  row.sandbox_cpu_s = self_cpu_s() - self0;
  const CpuTimes m1 = machine_cpu();
  row.req = requests();
  row.wall_s = row.run.wall_s;
  row.others_cpu_cores =
      std::max(0.0, (m1.busy_s - m0.busy_s) - row.sandbox_cpu_s - row.run.cpu_s()) /
      std::max(row.run.wall_s, 1e-3);
  row.ideal_s = static_cast<double>(row.req.total()) * o_.latency_ms / 1000.0 / o_.concurrency;
  // "info: summary: 10234 HTTP requests, 7 new connections for 1000 rotation(s)"
  auto pos = row.run.err.find(" HTTP requests, ");
  if (pos != std::string::npos) {
    auto start = row.run.err.rfind(' ', pos - 1);
    row.agent_requests = std::atol(row.run.err.c_str() + start + 1);
    row.agent_new_connections = std::atol(row.run.err.c_str() + pos + 16);
  }
  std::istringstream out(row.run.out);
  for (std::string line; std::getline(out, line);) {
    std::istringstream words(line);
    std::string name, word;
    words >> name >> word;
    if (word == "rotated") ++row.rotated;
  }
  if (!row.run.ok()) {
    row.problem = "rotate --all failed (" + row.run.how() + ")";
  } else if (row.rotated != o_.n) {
    row.problem = std::to_string(row.rotated) + " of " + std::to_string(o_.n) + " rotated";
  } else if (pos == std::string::npos) {
    row.problem = "no summary line on stderr";
  }
  row.ok = row.problem.empty();
  if (row.ok) all_rotated_ = true;
  return row;
}

// Limit mode: what the fake refused, and whether Infisical holds every promoted pair.
void Bench::finish_limit_row(BurstRow& row) {
  row.answered_429 = sb_->infisical().rate_limited_count() - rate_limited_before_;
  // Each rotation the org's budget pushes to the next day logs this once.
  for (std::size_t at = row.run.err.find("next try after the daily reset"); at != std::string::npos;
       at = row.run.err.find("next try after the daily reset", at + 1))
    ++row.next_day;
  {
    std::lock_guard lock(times_mu_);
    row.longest_promote_to_publish_s = longest_gap_s_;
  }
  const auto& apps = sb_->target_apps();
  for (std::size_t i = 0; i < apps.size(); ++i) {
    auto primary = sb_->salesforce().primary(apps[i].id);
    auto held =
        sb_->infisical().secret(sb_->project_id(), "prod", "/fleet/app-" + std::to_string(i + 1),
                                eca::sandbox::Sandbox::kKeyName);
    if (!primary || !held ||
        held->metadata["eca-rotator.fingerprint"] != eca::fingerprint(primary->key)) {
      ++row.unpublished;
    }
  }
  // Not a timing: a limit must never leave a promoted credential unpublished.
  if (row.unpublished > 0 && row.ok) {
    row.ok = false;
    row.problem = std::to_string(row.unpublished) + " ECAs left promoted but unpublished";
  }
}

// bound = the largest over the categories of requests / limit, in windows ("minutes").
void Bench::print_limit_table(const std::vector<BurstRow>& rows) const {
  const auto limits = eca::sandbox::InfisicalRateLimits::infisical_cloud_free();
  const double window_s = o_.window_ms / 1000.0;
  std::printf(
      "\nlimit mode: the fake enforces %d global, %d read, %d write, %d secret per %.1f s "
      "window (Infisical Cloud free plan%s)\n",
      limits.global, limits.read, limits.write, limits.secret, window_s,
      o_.window_ms == 60000 ? "" : ", time-scaled");
  std::printf("%-13s %7s %6s %6s %7s %8s %8s %6s %5s %11s %8s %9s\n", "scenario", "global", "read",
              "write", "secret", "bound_s", "wall_s", "ratio", "429s", "unpublished", "next_day",
              "max_p2p_s");
  static const std::set<std::string> kSecret = {
      "inf.list",   "inf.list_recursive", "inf.get",          "inf.create",      "inf.update",
      "inf.delete", "inf.upsert",         "inf.batch_create", "inf.batch_delete"};
  for (const auto& r : rows) {
    int read = 0;
    int write = 0;
    int secret = 0;
    for (const auto& [ep, count] : r.req.by_endpoint) {
      if (ep.rfind("inf.", 0) != 0) continue;
      if (kSecret.count(ep) != 0) {
        secret += count;
      } else if (ep == "inf.folder_list") {
        read += count;
      } else {
        write += count;
      }
    }
    const double bound_s = window_s * std::max({static_cast<double>(r.req.inf) / limits.global,
                                                static_cast<double>(read) / limits.read,
                                                static_cast<double>(write) / limits.write,
                                                static_cast<double>(secret) / limits.secret});
    std::printf("%-13s %7d %6d %6d %7d %8.2f %8.2f %6.3f %5d %11d %8d %9.2f%s\n",
                r.scenario.c_str(), r.req.inf, read, write, secret, bound_s, r.wall_s,
                bound_s > 0 ? r.wall_s / bound_s : 0.0, r.answered_429, r.unpublished, r.next_day,
                r.longest_promote_to_publish_s, r.ok ? "" : "  FAILED");
  }
  std::printf(
      "\n  requests counted at the fake (429s included); bound_s = window x max over the\n"
      "  categories of requests/limit; ratio = wall/bound (target <= 1.1); 429s answered\n"
      "  (target 0); unpublished = ECAs whose primary Infisical does not hold at the end\n"
      "  (target 0); max_p2p_s = longest promote -> publish of any rotation (target <= 5 s\n"
      "  unscaled); next_day = rotations deferred for the org's daily API requests (the\n"
      "  fake org: 15000 a day, 10%% reserve; target 0).\n");
}

ValidateResult Bench::validate() {
  ValidateResult v;
  const CpuTimes m0 = machine_cpu();
  const double self0 = self_cpu_s();
  const auto t0 = Clock::now();
  double agent_cpu = 0;
  for (int i = 0; i < o_.validate_runs; ++i) {
    v.bench_rss_kib = status_field("\n" + read_file("/proc/self/status"), "VmRSS");
    AgentRun agent(o_.agent, with_config({"validate"}), {},
                   dir_ / ("agent-" + std::to_string(++run_counter_) + "-validate"));
    Finished f = agent.wait(o_.timeout_s);
    if (!f.ok()) {
      v.problem = "validate failed (" + f.how() + "): " + tail_lines(f.err, 5);
      return v;
    }
    v.wall_ms.push_back(f.wall_s * 1000);
    v.cpu_ms.push_back(f.cpu_s() * 1000);
    v.maxrss_kib = std::max(v.maxrss_kib, f.maxrss_kib);
    agent_cpu += f.cpu_s();
  }
  const double span = std::max(seconds_between(t0, Clock::now()), 1e-3);
  v.others_cpu_cores =
      std::max(0.0, machine_cpu().busy_s - m0.busy_s - (self_cpu_s() - self0) - agent_cpu) / span;
  v.ok = true;
  return v;
}

// A systemd-style notify socket: counts WATCHDOG=1 and keeps the agent's sends from
// ever blocking on a full queue.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (fd_ < 0 || p.size() >= sizeof addr.sun_path) throw std::runtime_error("notify socket");
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("bind " + p + ": " + std::strerror(errno));
    }
    thread_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        pollfd pfd{fd_, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0) continue;
        ssize_t n;
        while ((n = recv(fd_, buf, sizeof buf, 0)) > 0) {
          std::string msg(buf, static_cast<std::size_t>(n));
          if (msg.find("WATCHDOG=1") != std::string::npos) ++watchdog_;
        }
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    thread_.join();
    close(fd_);
    unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  long watchdog() const { return watchdog_.load(); }

 private:
  fs::path path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<long> watchdog_{0};
  std::thread thread_;
};

IdleResult Bench::idle() {
  IdleResult r;
  if (!all_rotated_) {
    // Idle means nothing is due: rotate everything first, quickly.
    std::fprintf(stderr, "fleet-bench: idle: rotating all %d first (no added latency)\n", o_.n);
    sb_->salesforce().set_latency(milliseconds(0));
    sb_->infisical().set_latency(milliseconds(0));
    BurstRow pre = rotate_all("rotate --all (prep)");
    sb_->salesforce().set_latency(milliseconds(o_.latency_ms));
    sb_->infisical().set_latency(milliseconds(o_.latency_ms));
    if (!pre.ok) {
      r.problem = "preparing: " + pre.problem + "\n" + tail_lines(pre.run.err, 10);
      return r;
    }
  }
  clear_logs();
  std::unique_ptr<NotifySocket> notify;
  std::map<std::string, std::string> env;
  if (o_.watchdog_sec > 0) {
    notify = std::make_unique<NotifySocket>(dir_ / "notify.sock");
    env["NOTIFY_SOCKET"] = (dir_ / "notify.sock").string();
    env["WATCHDOG_USEC"] = std::to_string(static_cast<long long>(o_.watchdog_sec) * 1000000);
  }
  AgentRun agent(o_.agent, with_config({"run"}), env,
                 dir_ / ("agent-" + std::to_string(++run_counter_) + "-run-idle"));
  // Ready when it says so; then let start-up settle before the window opens.
  const auto deadline = agent.started() + std::chrono::seconds(60);
  bool ready = false;
  while (!ready && Clock::now() < deadline && !agent.exited(milliseconds(20))) {
    ready = agent.err_so_far().find("eca-rotator running with") != std::string::npos;
  }
  if (!ready) {
    agent.signal_child(SIGTERM);
    r.run = agent.wait(10);
    r.problem = "the daemon did not start (" + r.run.how() + "): " + tail_lines(r.run.err, 10);
    return r;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long pings0 = notify ? notify->watchdog() : 0;
  r.before = sample_tasks(agent.pid());
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::seconds(o_.idle_seconds);
  bool died = false;
  while (Clock::now() < end) {
    if (agent.exited(std::min(milliseconds(1000), std::chrono::duration_cast<milliseconds>(
                                                      end - Clock::now() + milliseconds(1))))) {
      died = true;
      break;
    }
  }
  r.after = sample_tasks(agent.pid());
  r.window_s = seconds_between(t0, Clock::now());
  r.watchdog_pings = notify ? notify->watchdog() - pings0 : 0;
  r.requests = requests().total();
  agent.signal_child(SIGTERM);
  r.run = agent.wait(60);
  if (died) {
    r.problem = "the daemon exited during the idle window (" + r.run.how() + ")";
  } else if (!r.run.ok()) {
    r.problem = "the daemon did not stop cleanly on SIGTERM (" + r.run.how() + ")";
  } else if (r.requests != 0) {
    r.problem = std::to_string(r.requests) + " HTTP requests while nothing was due";
  }
  r.ok = r.problem.empty();
  return r;
}

// ---------------------------------------------------------------------------------------
// Output

void Bench::print_burst_table(const std::vector<BurstRow>& rows) const {
  std::printf("\n%-13s %5s %4s %6s %8s %8s %6s %7s %7s %7s %8s %8s %8s\n", "scenario", "N", "conc",
              "lat_ms", "wall_s", "ideal_s", "ratio", "req/rot", "SF/rot", "INF/rot", "TLS/rot",
              "cpu_ms/r", "peakMiB");
  for (const auto& r : rows) {
    const double n = o_.n;
    std::printf("%-13s %5d %4d %6d %8.2f %8.2f %6.3f %7.2f %7.2f %7.2f %8.4f %8.3f %8.1f%s\n",
                r.scenario.c_str(), o_.n, o_.concurrency, o_.latency_ms, r.wall_s, r.ideal_s,
                r.ideal_s > 0 ? r.wall_s / r.ideal_s : 0.0, r.req.total() / n, r.req.sf / n,
                r.req.inf / n, static_cast<double>(r.new_connections) / n, r.run.cpu_s() * 1000 / n,
                static_cast<double>(r.run.maxrss_kib) / 1024, r.ok ? "" : "  FAILED");
  }
  std::printf(
      "\n  ideal_s = requests/rotation x latency x N / concurrency; ratio = wall/ideal;\n"
      "  TLS/rot = new TLS connections per rotation seen by the fakes; cpu = agent user+sys\n"
      "  (wait4); peakMiB = agent ru_maxrss. run (burst): first sight of every ECA, wall up\n"
      "  to the last upsert; rotate --all: second rotation of every ECA, process wall.\n");
  for (const auto& r : rows) {
    std::printf(
        "\n  %s: %s, agent user %.2f s + sys %.2f s, %ld context switches, VmHWM %.1f MiB, "
        "peak RssAnon %.1f MiB (+ RssFile %.1f MiB); sandbox (this process) %.2f s CPU; other "
        "load on the machine %.2f cores",
        r.scenario.c_str(), r.run.how().c_str(), r.run.user_s, r.run.sys_s, r.run.ctx_switches,
        static_cast<double>(r.hwm_kib) / 1024, static_cast<double>(r.peak_anon_kib) / 1024,
        static_cast<double>(r.file_at_peak_kib) / 1024, r.sandbox_cpu_s, r.others_cpu_cores);
    if (r.agent_requests >= 0) {
      std::printf("; agent's own count: %ld requests, %ld new connections", r.agent_requests,
                  r.agent_new_connections);
    }
    std::printf("\n    requests by endpoint (per rotation):");
    int col = 0;
    for (const auto& [ep, count] : r.req.by_endpoint) {
      if (col++ % 4 == 0) std::printf("\n     ");
      auto f = r.req.failed_by_endpoint.find(ep);
      std::string failed =
          f == r.req.failed_by_endpoint.end() ? "" : " (" + std::to_string(f->second) + " failed)";
      std::printf(" %-17s %6d %6.3f%s", ep.c_str(), count, count / static_cast<double>(o_.n),
                  failed.c_str());
    }
    std::printf("\n");
    if (o_.jwt) {
      std::printf("    JWT assertions verified by the fake org so far (one signature each): %d\n",
                  sb_->salesforce().jwt_logins());
    }
    if (!r.ok) {
      std::printf("    PROBLEM: %s\n    agent stderr (last lines):\n%s\n", r.problem.c_str(),
                  tail_lines(r.run.err, 15).c_str());
    }
  }
}

void Bench::print_validate(const ValidateResult& v) const {
  if (!v.ok) {
    std::printf("\nvalidate: FAILED: %s\n", v.problem.c_str());
    return;
  }
  auto sorted = v.wall_ms;
  std::sort(sorted.begin(), sorted.end());
  auto cpu = v.cpu_ms;
  std::sort(cpu.begin(), cpu.end());
  std::printf("\n%-13s %5s %5s %9s %9s %9s %10s %8s %11s\n", "validate", "N", "runs", "min_ms",
              "median_ms", "max_ms", "cpu_ms_med", "peakMiB", "other_load");
  std::printf("%-13s %5d %5zu %9.1f %9.1f %9.1f %10.1f %8.1f %11.2f\n", "validate", o_.n,
              sorted.size(), sorted.front(), sorted[sorted.size() / 2], sorted.back(),
              cpu[cpu.size() / 2], static_cast<double>(v.maxrss_kib) / 1024, v.others_cpu_cores);
  std::printf(
      "\n  wall of `eca-rotator validate` from fork to exit; other_load = average cores used\n"
      "  by other processes meanwhile (a shared machine makes the wall noisy). peakMiB =\n"
      "  ru_maxrss, which also counts the copy of this process the child is until execve\n"
      "  (this process: %.1f MiB when it forked): after the burst steps the figure can be\n"
      "  the bench's; `--mode validate` alone shows the agent's.\n",
      static_cast<double>(v.bench_rss_kib) / 1024);
}

void Bench::print_idle(const IdleResult& r) const {
  if (r.before.threads == 0 && !r.ok) {
    std::printf("\nidle: FAILED: %s\n", r.problem.c_str());
    return;
  }
  const double cpu_ms = static_cast<double>(r.after.run_ns - r.before.run_ns) / 1e6;
  const long wakeups = r.after.switches - r.before.switches;
  auto mib = [](long kib) { return static_cast<double>(kib) / 1024; };
  std::printf("\n%-13s %5s %6s %7s %7s %7s %7s %7s %7s %8s %8s %7s %8s %5s\n", "idle daemon", "N",
              "win_s", "RSS_MiB", "anon", "file", "PSS", "HWM", "threads", "cpu_ms", "cpu_%",
              "wakeups", "wd_pings", "HTTP");
  std::printf("%-13s %5d %6.1f %7.2f %7.2f %7.2f %7.2f %7.2f %7d %8.3f %8.5f %7ld %8ld %5d%s\n",
              "run (idle)", o_.n, r.window_s, mib(r.after.rss_kib), mib(r.after.anon_kib),
              mib(r.after.file_kib), mib(r.after.pss_kib), mib(r.after.hwm_kib), r.after.threads,
              cpu_ms, cpu_ms / 10.0 / r.window_s, wakeups, r.watchdog_pings, r.requests,
              r.ok ? "" : "  FAILED");
  std::printf(
      "\n  RSS = VmRSS at the end of the window = anon (RssAnon, the agent's own memory) +\n"
      "  file (RssFile, mapped files: the binary and its shared libraries); PSS shares\n"
      "  those among the processes mapping them; HWM = VmHWM (start-up included); cpu =\n"
      "  schedstat run time of all threads over the window; wakeups = voluntary +\n"
      "  involuntary context switches over the window; watchdog: %s.\n",
      o_.watchdog_sec > 0 ? (std::to_string(o_.watchdog_sec) + " s (the agent pings every " +
                             fixed(o_.watchdog_sec / 2.0, 1) +
                             " s: " + fixed(std::floor(r.window_s / (o_.watchdog_sec / 2.0)), 0) +
                             " wake-ups expected)")
                                .c_str()
                          : "off (0 wake-ups expected)");
  if (!r.ok) std::printf("  PROBLEM: %s\n", r.problem.c_str());
}

void Bench::print_targets(const std::vector<BurstRow>& rows, const ValidateResult* v,
                          const IdleResult* idle) const {
  if (o_.smoke) {
    std::printf("\nsmoke run: timings are printed, not judged\n");
    return;
  }
  const bool reference = o_.n == 1000 && o_.concurrency == 16 && o_.latency_ms == 20;
  std::printf("\ntargets%s:\n", reference ? ""
                                          : " (defined for N=1000, concurrency 16, 20 ms; "
                                            "shown for this configuration anyway)");
  auto line = [](bool met, const std::string& what, const std::string& got) {
    std::printf("  %-6s %-52s %s\n", met ? "met" : "MISSED", what.c_str(), got.c_str());
  };
  const double n = o_.n;
  for (const auto& r : rows) {
    if (!r.ok) continue;
    const std::string s = r.scenario + ": ";
    const double ratio = r.wall_s / r.ideal_s;
    line(ratio <= 1.15, s + "wall <= 1.15 x ideal", fixed(ratio, 3));
    line(r.req.total() / n <= 8, s + "requests/rotation <= 8", fixed(r.req.total() / n, 2));
    line(r.new_connections / n <= 0.05, s + "new TLS connections/rotation <= 0.05",
         fixed(static_cast<double>(r.new_connections) / n, 4));
    line(r.run.cpu_s() * 1000 / n <= 2, s + "agent CPU/rotation <= 2 ms",
         fixed(r.run.cpu_s() * 1000 / n, 3) + " ms");
    line(static_cast<double>(r.run.maxrss_kib) / 1024 <= 20, s + "peak RSS <= 20 MiB",
         fixed(static_cast<double>(r.run.maxrss_kib) / 1024, 1) + " MiB");
  }
  if (idle != nullptr && idle->ok) {
    const double rss = static_cast<double>(idle->after.rss_kib) / 1024;
    const double cpu_pct =
        static_cast<double>(idle->after.run_ns - idle->before.run_ns) / 1e7 / idle->window_s;
    const long wakeups = idle->after.switches - idle->before.switches;
    const long allowed =
        o_.watchdog_sec > 0 ? static_cast<long>(std::ceil(idle->window_s / (o_.watchdog_sec / 2.0)))
                            : 0;
    line(rss <= 8, "idle: RSS <= 8 MiB", fixed(rss, 2) + " MiB");
    line(cpu_pct <= 0.01, "idle: CPU <= 0.01 %", fixed(cpu_pct, 5) + " %");
    line(wakeups <= allowed, "idle: wake-ups <= what the watchdog needs",
         std::to_string(wakeups) + " (allowed " + std::to_string(allowed) + ")");
  }
  if (v != nullptr && v->ok) {
    auto sorted = v->wall_ms;
    std::sort(sorted.begin(), sorted.end());
    line(sorted[sorted.size() / 2] <= 50, "validate: <= 50 ms (median)",
         fixed(sorted[sorted.size() / 2], 1) + " ms");
  }
}

int Bench::run() {
  setup();
  std::printf("fleet-bench: eca-rotator (%s build) %s\n", ECA_BENCH_BUILD_TYPE, o_.agent.c_str());
  std::printf("machine: %s\n", machine_description().c_str());
  std::printf(
      "sandbox: HTTPS (test CA), %d ms per request, %d ECAs; agent concurrency %d; "
      "connection login: %s\n",
      o_.latency_ms, o_.n, o_.concurrency,
      o_.jwt ? "JWT bearer (RS256, 2048-bit key)" : "client credentials");
  std::fflush(stdout);

  bool ok = true;
  std::vector<BurstRow> rows;
  std::optional<ValidateResult> v;
  std::optional<IdleResult> idle_result;
  if (o_.mode == "all" || o_.mode == "burst") {
    std::fprintf(stderr, "fleet-bench: run (burst) of %d rotations...\n", o_.n);
    rows.push_back(burst_daemon());
    if (o_.limits) finish_limit_row(rows.back());
    std::fprintf(stderr, "fleet-bench: rotate --all of %d rotations...\n", o_.n);
    rows.push_back(rotate_all("rotate --all"));
    if (o_.limits) finish_limit_row(rows.back());
    for (const auto& r : rows) ok &= r.ok;
    print_burst_table(rows);
    if (o_.limits) print_limit_table(rows);
    std::fflush(stdout);
  }
  if (o_.mode == "all" || o_.mode == "validate") {
    std::fprintf(stderr, "fleet-bench: validate x%d...\n", o_.validate_runs);
    v = validate();
    ok &= v->ok;
    print_validate(*v);
    std::fflush(stdout);
  }
  if (o_.mode == "all" || o_.mode == "idle") {
    std::fprintf(stderr, "fleet-bench: idle daemon for %d s...\n", o_.idle_seconds);
    idle_result = idle();
    ok &= idle_result->ok;
    print_idle(*idle_result);
    std::fflush(stdout);
  }
  print_targets(rows, v ? &*v : nullptr, idle_result ? &*idle_result : nullptr);
  std::printf("\nmachine after: %s\n", machine_description().c_str());
  std::printf("result: %s\n", ok ? "every agent run succeeded" : "FAILED (see above)");

  sb_->stop();
  if (o_.keep || !ok) {
    std::printf("kept %s (config, state, agent logs)\n", dir_.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  try {
    Bench b(std::move(o));
    return b.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fleet-bench: %s\n", e.what());
    return 1;
  }
}

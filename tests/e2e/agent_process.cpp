#include "tests/e2e/agent_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace eca::e2e {
namespace {

// Everything the child needs, built before fork(). The test process runs the sandbox's
// server threads, so after fork() the child may only make async-signal-safe calls: a
// setenv() or malloc() there can wait forever on a lock another thread held at the fork
// (it did, under the sanitizers' allocators: the agent was never started).
class ChildImage {
 public:
  ChildImage(const std::string& binary, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env)
      : binary_(binary) {
    argv_s_.push_back(binary);
    argv_s_.insert(argv_s_.end(), args.begin(), args.end());
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      if (env.count(name) == 0 && env.count("!" + name) == 0) env_s_.push_back(entry);
    }
    for (const auto& [k, v] : env) {
      if (!(v.empty() && k.size() > 1 && k[0] == '!')) env_s_.push_back(k + "=" + v);
    }
    for (auto& s : argv_s_) argv_.push_back(s.data());
    argv_.push_back(nullptr);
    for (auto& s : env_s_) envp_.push_back(s.data());
    envp_.push_back(nullptr);
  }

  // In the forked child (never returns).
  [[noreturn]] void exec() const {
    ::execve(binary_.c_str(), argv_.data(), envp_.data());
    ::_exit(127);
  }

 private:
  std::string binary_;
  std::vector<std::string> argv_s_, env_s_;
  std::vector<char*> argv_, envp_;
};

}  // namespace

AgentProcess::AgentProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, bool paused) {
  int out[2], err[2], gate[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(gate, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const ChildImage image(binary, args, env);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // The in-process sandbox's sockets are not close-on-exec: the agent must not inherit
    // them (a connection held open by the child would change what the tests observe).
    ::close_range(3, ~0U, 0);
    if (paused) {
      char c = 0;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
    }
    image.exec();
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(gate[0]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  gate_fd_ = gate[1];
  if (!paused) release();
}

void AgentProcess::release() {
  if (gate_fd_ < 0) return;
  char c = 'g';
  (void)!::write(gate_fd_, &c, 1);
  ::close(gate_fd_);
  gate_fd_ = -1;
}

AgentProcess::~AgentProcess() {
  if (!done_) {
    ::kill(pid_, SIGKILL);
    (void)wait(5);
  }
}

ProcessResult AgentProcess::wait(int timeout_s) {
  ProcessResult r;
  if (done_) return r;
  release();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool out_open = true, err_open = true, killed = false;
  char buf[8192];
  while (out_open || err_open) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ::kill(pid_, SIGKILL);
      if (!killed) {
        r.err +=
            "\n[test harness: killed after " + std::to_string(timeout_s) + " s without exiting]\n";
        killed = true;
      }
      left = 2000;
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  ::close(out_fd_);
  ::close(err_fd_);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  done_ = true;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

ProcessResult run_agent(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env, int timeout_s) {
  AgentProcess p(ECA_ROTATOR_BIN, args, env);
  return p.wait(timeout_s);
}

ProcessResult run_agent_in_terminal(const std::vector<std::string>& args,
                                    const std::map<std::string, std::string>& env, int timeout_s) {
  const ChildImage image(ECA_ROTATOR_BIN, args, env);
  int master = -1;
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 160;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    ::close_range(3, ~0U, 0);  // see AgentProcess: no inherited sandbox sockets
    image.exec();
  }
  ProcessResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fd{master, POLLIN, 0};
    int n = ::poll(&fd, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = ::read(master, buf, sizeof buf);
    if (got > 0) {
      r.out.append(buf, static_cast<std::size_t>(got));
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child and everything it started closed the terminal
    }
  }
  ::close(master);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace eca::e2e

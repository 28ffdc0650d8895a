#include "agent/hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

namespace eca {

std::string run_argv_hook(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          std::chrono::seconds timeout) {
  // Prepared before fork: only async-signal-safe calls in the child.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "ECA_", 4) != 0) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return "cannot start the hook";
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(2, 1);
    ::setpgid(0, 0);
    sigset_t none;  // the daemon blocks its signals for signalfd; the hook must not inherit that
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return "lost track of the hook";
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return "the hook did not finish within " + std::to_string(timeout.count()) +
             " s and was killed";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return "the hook " + argv[0] + " could not be run, or its command was not found (exit 127)";
  if (WIFEXITED(status))
    return "the hook exited with status " + std::to_string(WEXITSTATUS(status));
  return "the hook was killed by signal " + std::to_string(WTERMSIG(status));
}

std::string run_hook(const std::string& command, const std::map<std::string, std::string>& env,
                     std::chrono::seconds timeout) {
  return run_argv_hook({"/bin/sh", "-c", command}, env, timeout);
}

}  // namespace eca

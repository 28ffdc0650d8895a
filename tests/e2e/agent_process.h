// AgentProcess: runs the real eca-rotator binary as a user would, capturing
// stdout and stderr, so end-to-end tests see exactly what an operator sees.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace eca::e2e {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

class AgentProcess {
 public:
  // Starts `binary args...` with the current environment plus `env` overrides (a key
  // "!NAME" with an empty value unsets NAME). With `paused`, the child waits before exec
  // until release(): its pid is known before it sends anything, so a test can arm a
  // fault that kills exactly this process.
  AgentProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {}, bool paused = false);
  void release();
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for exit (killing it after timeout_s) and returns what it printed.
  ProcessResult wait(int timeout_s = 120);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int gate_fd_ = -1;
  bool done_ = false;
};

// Runs to completion.
ProcessResult run_agent(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {}, int timeout_s = 120);

// Runs to completion with standard input, output and error on a pseudo-terminal, as at an
// operator's terminal: `out` is everything the terminal received (the terminal turns "\n"
// into "\r\n"), `err` stays empty.
ProcessResult run_agent_in_terminal(const std::vector<std::string>& args,
                                    const std::map<std::string, std::string>& env = {},
                                    int timeout_s = 120);

}  // namespace eca::e2e

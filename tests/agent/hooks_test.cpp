// agent/hooks: on_success/on_failure commands and deliveries' on_change argv.
#include "agent/hooks.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace eca {
namespace {

TEST(Hooks, ExitStatusesAndTheEnvironmentReachTheCaller) {
  EXPECT_EQ(run_hook("test \"$ECA_ROTATION\" = billing", {{"ECA_ROTATION", "billing"}},
                     std::chrono::seconds(5)),
            "");
  EXPECT_EQ(run_hook("exit 3", {}, std::chrono::seconds(5)), "the hook exited with status 3");
  EXPECT_EQ(run_argv_hook({"/bin/sh", "-c", "exit 0"}, {}, std::chrono::seconds(5)), "");
  EXPECT_NE(run_argv_hook({"/nonexistent/hook"}, {}, std::chrono::seconds(5)).find("exit 127"),
            std::string::npos);
}

// The daemon blocks SIGTERM and friends to read them from a signalfd; a hook started
// from it must not inherit that mask, or `kill` (and systemd's stop) cannot end it.
TEST(Hooks, AHookDoesNotInheritTheDaemonsBlockedSignals) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  // grep, exec'ed directly (a shell might reset its mask), reads the mask it was given.
  const std::string why = run_argv_hook(
      {"grep", "-q", "^SigBlk:[[:space:]]*0*$", "/proc/self/status"}, {}, std::chrono::seconds(5));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(why, "") << "the hook ran with signals blocked";
}

}  // namespace
}  // namespace eca

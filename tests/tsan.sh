#!/usr/bin/env bash
# Builds the tests with ThreadSanitizer into build-tsan/ and runs the ones that
# exercise threads: the transport and clients against loopback servers (libcurl's
# shared connection/DNS/TLS caches), the sandbox's threaded servers, the rotation
# engine, the end-to-end and crash-matrix tests (the eca-rotator processes they start
# rotate with concurrency 4, and the daemon runs its batch and metrics threads; they
# are sanitized too) and the fleet benchmark's smoke run (50 ECAs, concurrency 8).
#
#   tests/tsan.sh            (from anywhere)
#
# tests/run-tests.sh runs it after the ASan+UBSan suite. Environment: ECA_JOBS (parallelism, default 2),
# ECA_TSAN_BUILD_DIR, ECA_TSAN_TESTS (ctest -R regular expression replacing the
# default selection), ECA_CTEST_ARGS (extra ctest arguments).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ECA_TSAN_BUILD_DIR:-$root/build-tsan}
jobs=${ECA_JOBS:-2}
# A parametrised suite's tests are named Prefix/Suite.Test: the prefix is optional.
default_tests='^(([A-Za-z]+/)?(RotateE2e|DaemonE2e|CrashE2e|OperationsE2e|CrashMatrix|RotationEngineTest'
default_tests+='|CurlTransport|CurlTransportProxy|ScrubClients|SalesforceClientTest|InfisicalClientTest'
default_tests+='|InfisicalFaultTest|FakeSalesforceTest|FakeSalesforceHttps|FakeInfisicalTest|FaultTest'
default_tests+='|SandboxTest|HttpsSandboxTest|HttpsFaultTest|TranscriptReplay'
# Threads of their own: the shared session and request budget, the delivery poller and
# its hook runner, the limit-paced bursts.
default_tests+='|AuthSessionTest|RequestBudgetTest|BudgetedTransportTest|DeliveryServiceTest'
default_tests+='|LimitsE2e|DeliverE2e|FolderBurstE2e)\.|bench_smoke$)'
tests=${ECA_TSAN_TESTS:-$default_tests}

# Stop at the first report, with both stacks. Child processes (the agent binary run by
# the end-to-end tests) inherit these settings; a report makes them exit non-zero,
# which fails the test that ran them.
# tsan.supp: reports from the uninstrumented cpp-httplib library (see the file).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4:suppressions=$root/tests/tsan.supp}

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DECA_SANITIZE=thread -DECA_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$jobs" --target unit_tests sandbox_tests e2e_tests fleet-bench
# shellcheck disable=SC2086 # ECA_CTEST_ARGS is a list of arguments
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 900 -R "$tests" ${ECA_CTEST_ARGS:-}

#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (Debug)
# into build-asan/ and runs the whole ctest suite there: unit, sandbox and
# end-to-end tests (the eca-rotator processes they start are sanitized too) and
# the fuzz corpus replays.
#
#   tests/sanitizers.sh            (from anywhere)
#
# Environment: ECA_JOBS (parallelism, default 2), ECA_ASAN_BUILD_DIR,
# ECA_CTEST_ARGS (extra ctest arguments, e.g. "-L fuzz" or "-R unit").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ECA_ASAN_BUILD_DIR:-$root/build-asan}
jobs=${ECA_JOBS:-2}

# Stop at the first report, with a stack; leaks count as failures. Child
# processes (the agent binary run by the e2e tests) inherit these settings, and
# a sanitizer report makes them exit non-zero, which fails the test that ran them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:print_stacktrace=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:report_error_type=1}
# tests/lsan.supp: OpenSSL's per-process random generators (see the file).
export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0:suppressions=$root/tests/lsan.supp}

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DECA_SANITIZE=address,undefined -DECA_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$jobs"
# shellcheck disable=SC2086 # ECA_CTEST_ARGS is a list of arguments
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600 ${ECA_CTEST_ARGS:-}

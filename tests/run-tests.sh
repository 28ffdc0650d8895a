#!/usr/bin/env bash
# Checks the sources' format, builds eca-rotator and runs the whole test suite: unit, sandbox, end-to-end and crash
# tests, fuzz corpus replays and the benchmark smoke run (ctest), the agent compiled in
# Release with GCC and with Clang (warning-free), the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, the threaded tests under ThreadSanitizer,
# and the package tests (.deb/.rpm).
# Usage: tests/run-tests.sh    (from anywhere, as root on Debian 12; installs what it needs)
#   ECA_SKIP_SANITIZERS=1   skip the sanitizer builds (quick local runs)
#   ECA_SKIP_TSAN=1         skip only the ThreadSanitizer build
#   ECA_SKIP_PACKAGES=1     skip building and installing the packages
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh
jobs=$(nproc)

echo "== source format (.clang-format)"
bash tests/check-format.sh

echo "== build and test (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 300

# Optimised builds warn where RelWithDebInfo does not (GCC at -O3), and Clang
# where GCC does not: the agent alone, Release, with both compilers, -Werror.
for cxx in g++ clang++; do
  echo "== the agent in Release with $cxx (warnings are errors)"
  step_start=$(date +%s)
  cmake -S . -B "build-release-$cxx" -G Ninja -DCMAKE_BUILD_TYPE=Release -DECA_BUILD_TESTS=OFF \
    -DECA_PACKAGING=OFF -DECA_WERROR=ON -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
  cmake --build "build-release-$cxx" -j"$jobs" --target eca-rotator
  echo "   built in $(($(date +%s) - step_start))s"
done

if [ "${ECA_SKIP_SANITIZERS:-0}" != 1 ] && [ -f tests/sanitizers.sh ]; then
  echo "== the same suite under ASan + UBSan"
  bash tests/sanitizers.sh
  if [ "${ECA_SKIP_TSAN:-0}" != 1 ]; then
    echo "== the threaded tests under TSan"
    bash tests/tsan.sh
  fi
fi

if [ "${ECA_SKIP_PACKAGES:-0}" != 1 ]; then
  echo "== packages"
  bash packaging/test-packages.sh
fi

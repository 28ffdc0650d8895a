#!/usr/bin/env bash
# Builds eca-rotator and runs the whole test suite (unit, sandbox, end-to-end).
# Usage: tests/run-tests.sh    (from anywhere; installs missing build dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 300

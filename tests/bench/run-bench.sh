#!/usr/bin/env bash
# Builds and runs the fleet-scale benchmark (docs/benchmarks.md): the real agent against
# the in-process HTTPS sandbox with 1000 ECAs, concurrency 16 and 20 ms per request, then
# `validate` and 60 s of the idle daemon. Takes about 10 minutes on 2 cores.
# Usage: tests/bench/run-bench.sh [fleet-bench options]   (e.g. --n 200 --mode burst;
#        `--help` lists them). Builds into build/ like tests/run-tests.sh (RelWithDebInfo,
#        the build type the packages ship).
set -euo pipefail
cd "$(dirname "$0")/../.."

bash tests/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target fleet-bench
exec build/tests/bench/fleet-bench "$@"

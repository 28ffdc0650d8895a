#!/usr/bin/env bash
# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan into build-fuzz/
# and runs each for SECONDS (default 60) on its corpus, then prints executions
# and crashes per target.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS] [TARGET...]
#
# The committed corpus (tests/fuzz/corpus/<target>/) is only read: new inputs
# go to build-fuzz/corpus/<target>/, crashes to build-fuzz/artifacts/<target>/.
# To keep a finding, minimize it (<target> -minimize_crash=1 -runs=10000 FILE)
# and copy it into the committed corpus: it then replays in every ctest run.
# Needs: apt-get install clang libclang-rt-14-dev (libFuzzer's runtime).
# Environment: ECA_FUZZ_JOBS (build parallelism, default 2), ECA_FUZZ_BUILD_DIR.
set -euo pipefail

seconds=${1:-60}
shift || true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ECA_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${ECA_FUZZ_JOBS:-2}
all_targets=(fuzz_config fuzz_env_expand fuzz_salesforce_responses fuzz_infisical_responses
             fuzz_envelope fuzz_journal fuzz_state_file fuzz_metadata_answers)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -lt 1 ]]; then
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null; then
  echo "clang++ not found: apt-get install clang libclang-rt-14-dev" >&2
  exit 2
fi

# Debug keeps assertions; -O1 keeps the fuzzers fast. Warnings are the g++ build's
# job, so a clang-only warning in a file under edit does not stop a fuzzing session.
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DECA_BUILD_TESTS=ON -DECA_FUZZ=ON -DECA_WERROR=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# Scratch files of the targets (state dirs, config files) on tmpfs when there is one.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

summary=()
failed=0
for t in "${targets[@]}"; do
  seeds=$root/tests/fuzz/corpus/$t
  work=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f $root/tests/fuzz/$t.dict ]] && args+=(-dict="$root/tests/fuzz/$t.dict")
  before=$(find "$artifacts" -type f | wc -l)
  echo "== $t: ${seconds}s (log: $log)"
  rc=0
  "$build/tests/fuzz/$t" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  found=$(( $(find "$artifacts" -type f | wc -l) - before ))
  if [[ $rc -ne 0 ]]; then
    failed=1
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant violated|.*runtime error)' "$log" | head -5 || true
    ls -t "$artifacts" | head -3 | sed "s|^|   artifact: $artifacts/|" || true
  fi
  summary+=("$(printf '%-28s %6ss %12s execs %8s/s  cov %6s  corpus %5s  new crashes %s%s' \
    "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$(find "$work" -type f | wc -l)" "$found" \
    "$([[ $rc -ne 0 ]] && echo "  (exit $rc)")")")
done

echo
echo "summary (new crashes are in $build/artifacts/<target>/):"
printf '%s\n' "${summary[@]}"
exit "$failed"

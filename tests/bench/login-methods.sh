#!/usr/bin/env bash
# Prints, per Infisical login method, what one `rotate --all` of N sandbox ECAs costs:
# wall and CPU time of the agent, HTTP requests in all, and the login and metadata
# requests among them (from the agent's metrics file). A fresh sandbox per method, so
# each run rotates the same untouched fleet. Figures only: nothing is asserted.
# Usage: tests/bench/login-methods.sh [N]   (default 20; needs a built build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
agent=$root/build/eca-rotator
sandbox=$root/build/tests/eca-sandbox
n=${1:-20}
work=$(mktemp -d /tmp/eca-login-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$agent" keygen --out "$work/rk" >/dev/null

run_one() {  # $1: method
  local dir=$work/$1 auth
  mkdir -p "$dir"
  "$sandbox" --apps "$n" --env-file "$dir/env" >"$dir/sandbox.log" 2>&1 &
  local sb=$!
  for _ in $(seq 100); do [[ -s $dir/env ]] && break; sleep 0.1; done
  # shellcheck disable=SC1091
  . "$dir/env"
  printf '%s' "$SANDBOX_INFISICAL_CLIENT_SECRET" >"$dir/inf-secret"
  printf '%s' "$SANDBOX_CONNECTION_CLIENT_SECRET" >"$dir/sf-secret"
  chmod 600 "$dir/inf-secret" "$dir/sf-secret"
  local id="identity_id = \"$SANDBOX_INFISICAL_IDENTITY_ID\""
  local meta="metadata_url = \"$SANDBOX_METADATA_URL\""
  case $1 in
    universal-auth) auth="client_id = \"$SANDBOX_INFISICAL_CLIENT_ID\"
client_secret_file = \"$dir/inf-secret\"" ;;
    *) auth="method = \"$1\"
$id
$meta" ;;
  esac
  {
    printf '[agent]\nstate_dir = "%s/state"\nmetrics_file = "%s/metrics.prom"\n' "$dir" "$dir"
    printf '[infisical]\nurl = "%s"\nproject_id = "%s"\nenvironment = "prod"\n' \
      "$SANDBOX_INFISICAL_URL" "$SANDBOX_PROJECT_ID"
    printf '[infisical.auth]\n%s\n' "$auth"
    printf '[encryption]\nrecipient_public_key = "%s"\n' "$(cat "$work/rk.pub")"
    printf '[connections.sandbox]\nmy_domain_url = "%s"\nclient_id = "%s"\nclient_secret_file = "%s/sf-secret"\n' \
      "$SANDBOX_SALESFORCE_URL" "$SANDBOX_CONNECTION_CLIENT_ID" "$dir"
    local i=0
    for app in $SANDBOX_APP_IDS; do
      i=$((i + 1))
      printf '\n[[rotation]]\nname = "app-%d"\nconnection = "sandbox"\napp_id = "%s"\nsecret_path = "/app-%d"\n' "$i" "$app" "$i"
    done
  } >"$dir/agent.toml"
  chmod 600 "$dir/agent.toml"
  /usr/bin/time -o "$dir/time" -f "%e %U %S" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    -u AWS_REGION "$agent" --config "$dir/agent.toml" rotate --all --no-progress \
    >"$dir/out" 2>"$dir/err" || echo "$1: rotate failed: $(tail -1 "$dir/err")"
  local times
  times=$(tail -1 "$dir/time")
  kill "$sb"; wait "$sb" 2>/dev/null || true
  awk -v m="$1" -v t="$times" -v n="$n" '
    /^eca_rotator_requests_total/ { total += $2; if ($0 ~ /inf\.login/) login += $2; if ($0 ~ /service="metadata"/) meta += $2 }
    END { split(t, a, " "); printf "%-15s %6.2f s wall %5.2f s user %5.2f s sys  %4d requests (%.1f per rotation), %d login, %d metadata\n", m, a[1], a[2], a[3], total, total / n, login, meta }' \
    "$dir/metrics.prom"
}

echo "rotate --all of $n ECAs against the sandbox (HTTP, no added latency), one login per process:"
for m in universal-auth aws-iam gcp-id-token azure; do run_one "$m"; done

#!/usr/bin/env bash
# The demo: starts the sandbox (a fake Salesforce org and a fake Infisical on
# loopback), rotates three sandbox External Client Apps into the sandbox Infisical
# with sealed-box encryption, shows the status table, opens one published value with
# the private key, and rotates once more to show the dual-phase hand-over.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target eca-rotator eca-sandbox >/dev/null

bin=$PWD/build/eca-rotator
sandbox=$PWD/build/tests/eca-sandbox
work=$(mktemp -d /tmp/eca-demo.XXXXXX)
chmod 700 "$work"
cleanup() {
  [ -n "${sandbox_pid:-}" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting the sandbox (fake Salesforce org + fake Infisical on 127.0.0.1)"
"$sandbox" --apps 3 --env-file "$work/sandbox.env" >"$work/sandbox.out" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.1; done
[ -s "$work/sandbox.env" ] || { echo "sandbox did not start:"; cat "$work/sandbox.log"; exit 1; }
set -a; . "$work/sandbox.env"; set +a
echo "Salesforce: $SANDBOX_SALESFORCE_URL   Infisical: $SANDBOX_INFISICAL_URL"

step "Creating the recipient key pair (eca-rotator keygen)"
"$bin" keygen --out "$work/recipient.key"
export RECIPIENT_PUBLIC_KEY=$(cat "$work/recipient.key.pub")

step "Writing agent.toml (values come from the environment via \${VAR} expansion)"
printf '%s' "$SANDBOX_INFISICAL_CLIENT_SECRET" >"$work/infisical-secret"
printf '%s' "$SANDBOX_CONNECTION_CLIENT_SECRET" >"$work/sf-secret"
chmod 600 "$work/infisical-secret" "$work/sf-secret"
read -r -a app_ids <<<"$SANDBOX_APP_IDS"
{
  cat <<TOML
[agent]
state_dir = "$work/state"
concurrency = 4

[infisical]
url = "\${SANDBOX_INFISICAL_URL}"
project_id = "\${SANDBOX_PROJECT_ID}"
environment = "prod"

[infisical.auth]
method = "universal-auth"
client_id = "\${SANDBOX_INFISICAL_CLIENT_ID}"
client_secret_file = "$work/infisical-secret"

[encryption]
mode = "sealed-box"
recipient_public_key = "\${RECIPIENT_PUBLIC_KEY}"

[connections.sandbox]
my_domain_url = "\${SANDBOX_SALESFORCE_URL}"
client_id = "\${SANDBOX_CONNECTION_CLIENT_ID}"
client_secret_file = "$work/sf-secret"
TOML
  i=0
  for app in "${app_ids[@]}"; do
    i=$((i + 1))
    cat <<TOML

[[rotation]]
name = "demo-app-$i"
description = "Sandbox ECA number $i"
connection = "sandbox"
app_id = "$app"
interval_days = 14
rotate_at = "03:00"
secret_path = "/salesforce/demo-app-$i"
TOML
  done
} >"$work/agent.toml"
chmod 600 "$work/agent.toml"
sed -n '1,40p' "$work/agent.toml" | sed 's/^/    /'
"$bin" --config "$work/agent.toml" validate

step "First rotation of every ECA (eca-rotator rotate --all)"
"$bin" --config "$work/agent.toml" rotate --all

step "Status"
"$bin" --config "$work/agent.toml" status

step "What Infisical holds for demo-app-1 (sealed; the server never sees the credential)"
secrets_json=$(curl -sf "$SANDBOX_INFISICAL_URL/__sandbox/secrets")
envelope=$(printf '%s' "$secrets_json" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["secrets"]:
    if s["path"] == "/salesforce/demo-app-1" and s["name"] == "SALESFORCE_CONSUMER_KEY":
        print(s["value"])')
echo "SALESFORCE_CONSUMER_KEY = ${envelope:0:60}..."
opened=$("$bin" open --private-key-file "$work/recipient.key" "$envelope")
echo "opened with the private key: ${opened:0:12}... (${#opened} characters)"

step "Second rotation: generation 1 stays valid as 'Rotated', generation 2 is published"
"$bin" --config "$work/agent.toml" rotate demo-app-1
"$bin" --config "$work/agent.toml" status

step "Sandbox request counts"
kill "$sandbox_pid"; wait "$sandbox_pid" 2>/dev/null || true; sandbox_pid=
cat "$work/sandbox.log" | tail -n 20
echo
echo "Demo finished: 3 ECAs rotated and published sealed, one rotated twice."

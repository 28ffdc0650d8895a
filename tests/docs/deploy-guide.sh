#!/usr/bin/env bash
# Runs docs/deploy.md against the sandbox, so the guide cannot drift from the code.
#
#   bash tests/docs/deploy-guide.sh ECA_ROTATOR_BIN ECA_SANDBOX_BIN [GUIDE]
#   (or the environment variables ECA_ROTATOR_BIN, ECA_SANDBOX_BIN)
#
# Fenced blocks of the guide, by info string:
#   sh on=VM [input=NAME]   run with bash -euo pipefail on the VM (rotator or consumer);
#                           input= feeds that value (+ newline) on standard input.
#   toml on=VM file=PATH    written to PATH (mode 0640), then `eca-rotator validate` must
#                           accept the VM's config as it stands, with the VM's
#                           /etc/default/eca-rotator in the environment.
#   sh host                 needs a real host (package installation): not run; the
#                           package file names and every path it names are checked
#                           against the packaging sources instead.
#   text                    output shown as an example, never a command.
# Any other sh, toml, ini, bash or console block fails the test: every command is run.
#
# Substitutions, applied to each block before it runs (and nothing else):
#   /etc/eca-rotator, /etc/default/eca-rotator, /var/lib/eca-rotator, /run/eca-rotator
#       -> the same paths under a temporary root per VM ($work/<vm>/...)
#   /usr/bin/eca-rotator (the unit's ExecStart) -> the built binary
#   https://acme.my.salesforce.com, https://app.infisical.com -> the sandbox's URLs
#   127.0.0.1:9464 -> a free loopback port per VM
#   <project id>, <writer client id>, <reader client id>, <connection consumer key>,
#   <billing app id>, <consumer public key> -> the sandbox's values (both Infisical
#       identities are the sandbox's one identity; the role is not modelled)
#   input= names: infisical-writer-secret, infisical-reader-secret, connection-secret
# Commands, through shims first in PATH: eca-rotator (the built binary); sudo -u USER
# (runs the command as the current user); chown/chgrp (the user and group eca-rotator
# become the current user's); systemctl (start, enable --now, restart, reload, stop of
# eca-rotator only, acted out from packaging/eca-rotator.service: its ExecStart= with its
# EnvironmentFile= loaded and RUNTIME_DIRECTORY set, ready when the daemon logs the line
# it logs just before READY=1). The VM roots start as the package leaves them (the
# shipped agent.toml and /etc/default file, conf.d/, the state directory 0700).
#
# Then it checks what the guide promises: a first rotation published sealed; validate
# --online ok; status showing the rotation; /healthz 200 on both daemons; the delivered
# file present, mode 0600, holding a pair that gets a token from the fake org.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${ECA_ROTATOR_BIN:-}}
sandbox_bin=${2:-${ECA_SANDBOX_BIN:-}}
guide=${3:-$repo/docs/deploy.md}
if [ ! -x "$bin" ] || [ ! -x "$sandbox_bin" ]; then
  echo "usage: $0 ECA_ROTATOR_BIN ECA_SANDBOX_BIN [GUIDE]" >&2
  exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
guide_name=docs/deploy.md
[ "$guide" = "$repo/docs/deploy.md" ] || guide_name=$guide

work=$(mktemp -d /tmp/eca-deploy-guide.XXXXXX)
chmod 700 "$work"
sandbox_pid=
cleanup() {
  local f
  for f in "$work"/*/daemon.pid; do
    [ -s "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
  done
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  for f in "$work"/*/daemon.pid; do
    [ -s "$f" ] || continue
    for _ in $(seq 50); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "deploy-guide: FAIL: $*" >&2
  exit 1
}

# --- the sandbox ---------------------------------------------------------------
"$sandbox_bin" --apps 2 --env-file "$work/sandbox.env" >"$work/sandbox.out" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.1; done
[ -s "$work/sandbox.env" ] || { cat "$work/sandbox.log" >&2; fail "the sandbox did not start"; }
# shellcheck disable=SC1091
. "$work/sandbox.env"
read -r -a app_ids <<<"$SANDBOX_APP_IDS"

# A port for a daemon's metrics: below the kernel's ephemeral range, where the servers
# other tests open on port 0 (ctest runs them in parallel) cannot take it between the
# pick and the daemon's start; never one picked before.
picked_ports=" "
free_port() {
  local p low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  [ "$low" -gt 11000 ] || fail "the ephemeral port range starts at $low: no room below it"
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % (low - 10000)))
    case "$picked_ports" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      picked_ports+="$p "
      echo "$p"
      return
    fi
  done
  fail "no free loopback port"
}

# --- the VM roots, as the package leaves them ---------------------------------
for vm in rotator consumer; do
  r=$work/$vm
  mkdir -p "$r/etc/eca-rotator/conf.d" "$r/etc/default" "$r/run" "$r/out"
  install -m 0640 "$repo/agent.toml.example" "$r/etc/eca-rotator/agent.toml"
  install -m 0644 "$repo/packaging/environment" "$r/etc/default/eca-rotator"
  # tmpfiles.conf: the state directory and its mode.
  read -r _ sd mode _ < <(grep '^d ' "$repo/packaging/tmpfiles.conf")
  [ "$sd" = /var/lib/eca-rotator ] || fail "tmpfiles.conf no longer creates /var/lib/eca-rotator"
  install -d -m "$mode" "$r$sd"
  free_port >"$r/port"
done

# --- shims ----------------------------------------------------------------------
shims=$work/shims
mkdir -p "$shims"
ln -s "$bin" "$shims/eca-rotator"
cat >"$shims/sudo" <<'EOF'
#!/usr/bin/env bash
# sudo -u USER COMMAND...: the test has no eca-rotator user; run as the current user.
set -euo pipefail
[ "${1:-}" = -u ] && [ $# -ge 3 ] || { echo "sudo shim: only 'sudo -u USER COMMAND' is acted out" >&2; exit 2; }
shift 2
exec "$@"
EOF
for tool in chown chgrp; do
  cat >"$shims/$tool" <<EOF
#!/usr/bin/env bash
# $tool eca-rotator...: the test has no eca-rotator user or group; give it to the current one.
set -euo pipefail
real=\$(PATH=/usr/bin:/bin command -v $tool)
args=()
for a in "\$@"; do
  case "\$a" in
    eca-rotator:eca-rotator | eca-rotator: ) a=\$(id -un):\$(id -gn) ;;
    eca-rotator) [ $tool = chgrp ] && a=\$(id -gn) || a=\$(id -un) ;;
  esac
  args+=("\$a")
done
exec "\$real" "\${args[@]}"
EOF
done
cat >"$shims/systemctl" <<'EOF'
#!/usr/bin/env bash
# systemctl for eca-rotator.service on one VM of the test, acted out from the unit file.
set -euo pipefail
unit=$ECA_GUIDE_REPO/packaging/eca-rotator.service
root=$ECA_GUIDE_ROOT
sub() { sed -e "s#/usr/bin/eca-rotator#$ECA_GUIDE_BIN#g" -e "s#/etc/eca-rotator#$root/etc/eca-rotator#g" \
  -e "s#/etc/default/eca-rotator#$root/etc/default/eca-rotator#g"; }
pidfile=$root/daemon.pid
running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
  running && return 0
  local exec_start env_file run_dir
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | sub)
  env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit" | sub)
  run_dir=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
  [ -n "$exec_start" ] && [ -n "$run_dir" ] || { echo "systemctl shim: unit lacks ExecStart= or RuntimeDirectory=" >&2; exit 1; }
  install -d -m "$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")" "$root/run/$run_dir"
  : >"$root/daemon.log"
  (
    set -a
    # shellcheck disable=SC1090
    [ -f "$env_file" ] && . "$env_file"
    set +a
    export RUNTIME_DIRECTORY=$root/run/$run_dir
    # shellcheck disable=SC2086
    exec $exec_start
  ) </dev/null >>"$root/daemon.log" 2>&1 &
  echo $! >"$pidfile"
  # Type=notify: ready once the daemon logs the line it logs just before READY=1.
  for _ in $(seq 200); do
    grep -q 'eca-rotator running with' "$root/daemon.log" && return 0
    running || break
    sleep 0.1
  done
  echo "systemctl shim: eca-rotator did not become ready:" >&2
  cat "$root/daemon.log" >&2
  exit 1
}
stop() {
  running || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  : >"$pidfile"
}
verb=${1:-}
shift || true
now=0
args=()
for a in "$@"; do
  case "$a" in --now) now=1 ;; *) args+=("$a") ;; esac
done
[ "${args[*]:-}" = eca-rotator ] || [ "${args[*]:-}" = eca-rotator.service ] || {
  echo "systemctl shim: only eca-rotator is acted out, not '${args[*]:-}'" >&2; exit 2; }
case "$verb" in
  enable) [ $now = 1 ] && start ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  reload) running && kill -HUP "$(cat "$pidfile")" ;;
  *) echo "systemctl shim: '$verb' is not acted out" >&2; exit 2 ;;
esac
EOF
chmod 755 "$shims/sudo" "$shims/chown" "$shims/chgrp" "$shims/systemctl"

# --- the blocks -----------------------------------------------------------------
blocks=$work/blocks
mkdir -p "$blocks"
awk -v dir="$blocks" '
  !inblock && /^```/ { inblock = 1; n++; line = NR; info = substr($0, 4)
                       f = sprintf("%s/%03d", dir, n)
                       printf "%s\n", line > (f ".line"); printf "%s\n", info > (f ".info")
                       printf "" > (f ".body"); next }
  inblock && /^```[ \t]*$/ { inblock = 0; next }
  inblock { print >> (sprintf("%s/%03d", dir, n) ".body") }
  END { if (inblock) { print "unterminated block at line " line > "/dev/stderr"; exit 1 } }
' "$guide" || fail "$guide_name: cannot split into blocks"

pubkey() { tr -d '\n' <"$work/consumer/etc/eca-rotator/consumer.key.pub"; }
substitute() { # VM: stdin -> stdout
  local r=$work/$1 port pk=
  port=$(cat "$r/port")
  [ -s "$work/consumer/etc/eca-rotator/consumer.key.pub" ] && pk=$(pubkey)
  sed -e "s#/etc/eca-rotator#$r/etc/eca-rotator#g" \
    -e "s#/etc/default/eca-rotator#$r/etc/default/eca-rotator#g" \
    -e "s#/var/lib/eca-rotator#$r/var/lib/eca-rotator#g" \
    -e "s#/run/eca-rotator#$r/run/eca-rotator#g" \
    -e "s#https://acme.my.salesforce.com#$SANDBOX_SALESFORCE_URL#g" \
    -e "s#https://app.infisical.com#$SANDBOX_INFISICAL_URL#g" \
    -e "s#127.0.0.1:9464#127.0.0.1:$port#g" \
    -e "s#<project id>#$SANDBOX_PROJECT_ID#g" \
    -e "s#<writer client id>#$SANDBOX_INFISICAL_CLIENT_ID#g" \
    -e "s#<reader client id>#$SANDBOX_INFISICAL_CLIENT_ID#g" \
    -e "s#<connection consumer key>#$SANDBOX_CONNECTION_CLIENT_ID#g" \
    -e "s#<billing app id>#${app_ids[0]}#g" \
    -e "s#<consumer public key>#$pk#g"
}
input_value() {
  case "$1" in
    infisical-writer-secret | infisical-reader-secret) printf '%s\n' "$SANDBOX_INFISICAL_CLIENT_SECRET" ;;
    connection-secret) printf '%s\n' "$SANDBOX_CONNECTION_CLIENT_SECRET" ;;
    *) return 1 ;;
  esac
}

# Packaging facts the host blocks rely on.
version=$(sed -n 's/^project(eca-rotator VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[ -n "$version" ] || fail "no project() version in CMakeLists.txt"
for want in 'CPACK_PACKAGE_NAME "eca-rotator"' 'CPACK_DEBIAN_FILE_NAME DEB-DEFAULT' \
  'CPACK_RPM_FILE_NAME RPM-DEFAULT'; do
  grep -qF -- "$want" "$repo/packaging/packaging.cmake" ||
    fail "packaging.cmake lacks $want: the package file names in the guide may be wrong"
done
release=$(sed -n 's/.*set(ECA_PKG_RELEASE "\{0,1\}\([0-9][0-9]*\).*/\1/p' "$repo/packaging/packaging.cmake" | head -n1)
release=${release:-1}
deb_name=eca-rotator_${version}-${release}_amd64.deb
rpm_name=eca-rotator-${version}-${release}.x86_64.rpm
grep -q '^u *eca-rotator ' "$repo/packaging/sysusers.conf" || fail "sysusers.conf no longer creates the user eca-rotator"
grep -q '^User=eca-rotator$' "$repo/packaging/eca-rotator.service" || fail "the unit no longer runs as eca-rotator"

check_host_block() { # LINE BODYFILE
  local where=$1 body=$2 l tok
  while IFS= read -r l; do
    l=${l%%#*}
    [ -z "${l// /}" ] && continue
    case "$l" in
      "apt-get install ./"* | "apt install ./"* | "dnf install ./"* | "yum install ./"*) ;;
      *) fail "$guide_name:$where: host block line '$l' is not a package installation the test can check" ;;
    esac
    for tok in $l; do
      case "$tok" in
        ./*.deb) [ "${tok#./}" = "$deb_name" ] || fail "$guide_name:$where: $tok, but the build writes $deb_name" ;;
        ./*.rpm) [ "${tok#./}" = "$rpm_name" ] || fail "$guide_name:$where: $tok, but the build writes $rpm_name" ;;
      esac
    done
  done <"$body"
}

# Every path of the installed layout that the guide's prose names must be one the package
# installs or the unit uses.
# shellcheck disable=SC2013 # the paths have no spaces
for p in $(grep -o '/\(etc\|usr\|var/lib\|run\)/[a-z/]*eca-rotator' "$guide" | sort -u); do
  grep -rqF -- "$p" "$repo/packaging" || fail "$guide_name names $p, which packaging/ does not install"
done
grep -q 'RuntimeDirectory=eca-rotator' "$repo/packaging/eca-rotator.service" ||
  fail "the guide relies on /run/eca-rotator (RuntimeDirectory=eca-rotator in the unit)"

ran=0
for info_file in "$blocks"/*.info; do
  b=${info_file%.info}
  line=$(cat "$b.line")
  read -r -a info <"$info_file" || true
  lang=${info[0]:-}
  on='' file='' input='' host=0
  for attr in "${info[@]:1}"; do
    case "$attr" in
      on=*) on=${attr#on=} ;;
      file=*) file=${attr#file=} ;;
      input=*) input=${attr#input=} ;;
      host) host=1 ;;
      *) fail "$guide_name:$line: unknown block attribute '$attr'" ;;
    esac
  done
  case "$lang" in
    text) continue ;;
    sh | toml) ;;
    *) fail "$guide_name:$line: a '$lang' block is neither run nor checked; use sh/toml with on=VM, sh host, or text" ;;
  esac
  if [ $host = 1 ]; then
    [ "$lang" = sh ] || fail "$guide_name:$line: only sh blocks can be host blocks"
    check_host_block "$line" "$b.body"
    echo "deploy-guide: $guide_name:$line: host block checked against packaging/"
    continue
  fi
  case "$on" in
    rotator | consumer) ;;
    *) fail "$guide_name:$line: $lang block without on=rotator or on=consumer" ;;
  esac
  r=$work/$on
  substitute "$on" <"$b.body" >"$b.run"
  if grep -n '<[a-z][a-z0-9 -]*>' "$b.run" >&2; then
    fail "$guide_name:$line: a placeholder above has no substitution in the test"
  fi
  envs=(PATH="$shims:$PATH" ECA_ROTATOR_CONFIG="$r/etc/eca-rotator/agent.toml"
    ECA_GUIDE_ROOT="$r" ECA_GUIDE_REPO="$repo" ECA_GUIDE_BIN="$bin" TERM=dumb)
  out=$r/out/$line.log
  if [ "$lang" = toml ]; then
    [ -n "$file" ] || fail "$guide_name:$line: toml block without file="
    target=$(printf '%s' "$file" | substitute "$on")
    case "$target" in "$r"/*) ;; *) fail "$guide_name:$line: file=$file is outside the VM's root" ;; esac
    install -m 0640 "$b.run" "$target"
    echo "deploy-guide: $guide_name:$line: wrote $file on $on; validating"
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash
    if ! env "${envs[@]}" bash -c 'set -a; . "$1"; set +a; exec eca-rotator validate' _ \
      "$r/etc/default/eca-rotator" >"$out" 2>&1; then
      sed 's/^/    /' "$out" >&2
      fail "$guide_name:$line: the config written from this block does not validate"
    fi
  else
    echo "deploy-guide: $guide_name:$line: running on $on:"
    sed 's/^/    $ /' "$b.body"
    if [ -n "$input" ]; then
      input_value "$input" >"$b.in" || fail "$guide_name:$line: unknown input=$input"
    else
      : >"$b.in"
    fi
    rc=0
    env "${envs[@]}" bash -euo pipefail "$b.run" <"$b.in" >"$out" 2>&1 || rc=$?
    sed 's/^/    /' "$out"
    [ $rc = 0 ] || fail "$guide_name:$line: the block failed (exit $rc; output above)"
  fi
  cp "$b.body" "$r/out/$line.block"
  ran=$((ran + 1))
done
[ $ran -ge 10 ] || fail "only $ran blocks ran: did the guide lose its blocks?"

# --- what the guide promises --------------------------------------------------------
block_output() { # VM PATTERN: the output of the first block of VM whose text matches
  local f
  for f in "$work/$1"/out/*.block; do
    if grep -q -- "$2" "$f"; then
      cat "${f%.block}.log"
      return 0
    fi
  done
  fail "no block on $1 runs '$2'"
}
rot=$work/rotator con=$work/consumer

v=$(block_output rotator 'validate --online')
grep -q '^rotation billing .* ok ' <<<"$v" || fail "validate --online did not report rotation billing ok"
grep -q 'FAIL' <<<"$v" && fail "validate --online reported a FAIL"
c=$(block_output consumer 'validate --online')
grep -q '^delivery billing .* ok .*generation 1 ' <<<"$c" ||
  fail "validate --online on the consumer did not report delivery billing ok at generation 1"
grep -q 'FAIL' <<<"$c" && fail "validate --online on the consumer reported a FAIL"

s=$(block_output rotator 'eca-rotator status')
grep -q '^billing .* ok ' <<<"$s" || fail "status does not show billing as ok after the first rotation"

json=$(ECA_ROTATOR_CONFIG="$rot/etc/eca-rotator/agent.toml" "$bin" status --json)
grep -q '"rotation":"billing".*"generation":1,' <<<"$json" || fail "status --json: billing is not at generation 1: $json"

secrets=$(curl -fsS "$SANDBOX_INFISICAL_URL/__sandbox/secrets")
grep -q '"path":"/salesforce/billing"' <<<"$secrets" || fail "nothing published at /salesforce/billing"
grep -q '"value":"ecr1:' <<<"$secrets" || fail "the published values are not sealed envelopes"

for vm in rotator consumer; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$work/$vm/port")/healthz")
  [ "$code" = 200 ] || fail "/healthz on the $vm answers $code"
  kill -0 "$(cat "$work/$vm/daemon.pid")" || fail "the $vm's daemon is not running"
done

if grep -q 'systemctl reload eca-rotator' "$rot"/out/*.block; then
  grep -q 'configuration reloaded' "$rot/daemon.log" || fail "the rotator's daemon did not log a reload"
fi

delivered=$con/run/eca-rotator/billing.env
[ -f "$delivered" ] || fail "no delivered file $delivered"
[ "$(stat -c %a "$delivered")" = 600 ] || fail "$delivered has mode $(stat -c %a "$delivered"), not 0600"
(
  # shellcheck disable=SC1090
  . "$delivered"
  if [ -z "${SALESFORCE_CONSUMER_KEY:-}" ] || [ -z "${SALESFORCE_CONSUMER_SECRET:-}" ]; then
    fail "the delivered file lacks the pair"
  fi
  [ "$SALESFORCE_CONSUMER_KEY" != "${SALESFORCE_CONSUMER_KEY#ecr}" ] && fail "the delivered key is still sealed"
  token=$(curl -s -o /dev/null -w '%{http_code}' "$SANDBOX_SALESFORCE_URL/services/oauth2/token" \
    --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$SALESFORCE_CONSUMER_KEY" \
    --data-urlencode "client_secret=$SALESFORCE_CONSUMER_SECRET")
  [ "$token" = 200 ] || fail "the delivered pair does not get a token from the fake org (HTTP $token)"
)
grep -q '^eca_rotator_delivery_generation{.*} 1$' \
  <<<"$(curl -fsS "http://127.0.0.1:$(cat "$con/port")/metrics")" ||
  fail "the consumer does not report generation 1 delivered"

echo "deploy-guide: ok: $ran blocks of $guide_name ran; rotation published sealed, pair delivered (0600) and accepted by the org"

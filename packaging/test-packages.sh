#!/usr/bin/env bash
# Builds the .deb and .rpm of eca-rotator from a clean build directory and
# checks them:
#   1. lintian (no error or warning left unexplained) and rpmlint (same),
#   2. the layout, modes, conffiles and dependencies of both packages,
#      the unit (systemd-analyze verify and security), the man page,
#   3. real installations into throwaway Debian roots made with mmdebstrap:
#      the .deb with dpkg (install, reinstall, remove, purge; once with
#      systemd-sysusers/systemd-tmpfiles, once with the useradd fallback), and
#      the .rpm with `rpm --root` (install, upgrade, erase, scriptlets); the
#      installed binary runs --version, validate on the shipped config and status,
#   4. the installed service under systemd itself: the root is booted with
#      systemd-nspawn and the unit, with all its sandboxing, must start
#      (Type=notify), keep a 2 s watchdog, reload, read a LoadCredential= journal
#      key and stop with status 0.
# About 2.5 minutes on 2 cores (the compile is most of it; the root is built
# while the compiler runs). Needs root and Debian's archive (mmdebstrap).
#
# Usage (as root, Debian 12, from anywhere):  bash packaging/test-packages.sh
# Environment:
#   ECA_PKG_BUILD_DIR   build directory (default <repo>/build-pkg; wiped first)
#   ECA_PKG_MIRROR      Debian mirror for mmdebstrap (default: the one apt on this machine uses)
#   ECA_PKG_ROOTFS      reuse (or create) this rootfs tarball instead of a fresh
#                       mmdebstrap run: for local iterations, not for CI
#   ECA_PKG_JOBS        build parallelism (default 2)
#   ECA_PKG_SKIP_BOOT=1 skip step 4 where systemd-nspawn cannot boot a container
#   ECA_PKG_REUSE_BUILD=1  build incrementally in the existing build directory
#                       instead of a clean one: for local iterations, not for CI
set -euo pipefail
umask 022
export LC_ALL=C.UTF-8

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pkgdir="$repo/packaging"
build=${ECA_PKG_BUILD_DIR:-$repo/build-pkg}
# The mirror this machine's apt already uses (deb822 sources first, then sources.list).
apt_mirror() {
	local uri
	uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
	[ -n "$uri" ] || uri=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	printf '%s' "$uri"
}
mirror=${ECA_PKG_MIRROR:-$(apt_mirror)}
if [ -z "$mirror" ]; then
	echo "test-packages: cannot find a Debian mirror in apt's sources; set ECA_PKG_MIRROR" >&2
	exit 1
fi
jobs=${ECA_PKG_JOBS:-2}
start=$(date +%s)

work=$(mktemp -d /tmp/eca-pkg-test.XXXXXX)
mounts=()
bg_pid=""
cleanup() {
	local rc=$?
	stop_rootfs_job
	if [ -n "${sandbox_pid:-}" ]; then
		kill "$sandbox_pid" 2>/dev/null || true
		wait "$sandbox_pid" 2>/dev/null || true
	fi
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do # innermost first
		umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
	done
	# Never follow a mount that is still there into the host.
	if ! grep -q " $work/" /proc/mounts; then
		rm -rf --one-file-system "$work"
		printf 'test-packages: finished after %ds (exit status %d)\n' "$(($(date +%s) - start))" "$rc" >&2
	else
		echo "test-packages: $work still has mounts; left in place" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT

# mmdebstrap runs in its own session (it signals its process group when
# interrupted); stop it and let it unmount and remove its temporary root.
stop_rootfs_job() {
	[ -n "$bg_pid" ] || return 0
	local pgid i
	pgid=$(cat "$work/mmdebstrap.pid" 2>/dev/null || true)
	if [ -n "$pgid" ] && kill -TERM -- "-$pgid" 2>/dev/null; then
		for i in $(seq 60); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 1; done
	fi
	kill "$bg_pid" 2>/dev/null || true
	wait "$bg_pid" 2>/dev/null || true
	bg_pid=""
}
step() { printf '\n=== [%3ds] %s\n' "$(($(date +%s) - start))" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf '  ok: %s\n' "$*"; }
# assert_eq WHAT ACTUAL EXPECTED
assert_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; ok "$1 = $3"; }

[ "$(id -u)" -eq 0 ] || fail "run as root (chroot, dpkg and rpm into throwaway roots)"

# --- Tools ----------------------------------------------------------------------
step "Installing build and packaging tools (apt-get, only what is missing)"
bash "$repo/tests/install-deps.sh"
tools=(dpkg-dev lintian rpm rpmlint mmdebstrap eatmydata file man-db cpio systemd-container)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true # a broken third-party source must not stop us
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		fail "apt-get install ${missing[*]}"
fi
ok "tools present"

# --- Throwaway root, made in the background while the build runs ---------------
# minbase-like "essential" variant plus libcurl4, libssl3, libstdc++6 and systemd (for
# systemd-sysusers, systemd-tmpfiles, systemctl enable); eatmydata and
# unsafe-io make dpkg inside it fast (the root is thrown away anyway).
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
# The roots live on a tmpfs when possible: this disk takes longer to delete a
# few hundred MB of small files than dpkg takes to install them.
roots="$work/roots"
mkdir -p "$roots"
if mount -t tmpfs -o size=4G,mode=0755 eca-pkg-test "$roots" 2>/dev/null; then
	mounts+=("$roots")
	ok "throwaway roots on a tmpfs"
fi
rootfs_tar=${ECA_PKG_ROOTFS:-$roots/rootfs.tar}
make_rootfs() {
	local try
	for try in 1 2; do
		TMPDIR="$roots" setsid mmdebstrap --variant=essential --mode=root --format=tar \
			--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata --dpkgopt=force-unsafe-io \
			--include=libcurl4,libssl3,libstdc++6,passwd,procps,systemd \
			"$suite" "$rootfs_tar.tmp" "$mirror" >>"$work/mmdebstrap.log" 2>&1 &
		echo $! >"$work/mmdebstrap.pid"
		if wait $!; then
			mv "$rootfs_tar.tmp" "$rootfs_tar"
			return 0
		fi
		echo "mmdebstrap attempt $try failed" >>"$work/mmdebstrap.log"
		sleep 5
	done
	return 1
}
if [ -f "$rootfs_tar" ]; then
	ok "reusing $rootfs_tar"
else
	make_rootfs &
	bg_pid=$!
	ok "mmdebstrap $suite from $mirror started (pid $bg_pid)"
fi

# --- Build from a clean tree ------------------------------------------------------
if [ "${ECA_PKG_REUSE_BUILD:-0}" = 1 ]; then
	step "Building the packages in $build (incremental: ECA_PKG_REUSE_BUILD=1)"
else
	step "Building the packages in a clean $build"
	rm -rf --one-file-system "$build"
fi
cmake -S "$repo" -B "$build" -G Ninja -DECA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "cmake configure"; }
cmake --build "$build" -j "$jobs" --target packages >"$work/build.log" 2>&1 ||
	{ tail -n 60 "$work/build.log"; fail "cmake --build --target packages"; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
release=$(sed -n 's/^ECA_PKG_RELEASE:STRING=//p' "$build/CMakeCache.txt")
debarch=$(dpkg --print-architecture)
rpmarch=$(uname -m)
deb="$build/dist/eca-rotator_${version}-${release}_${debarch}.deb"
rpm="$build/dist/eca-rotator-${version}-${release}.${rpmarch}.rpm"
[ -f "$deb" ] || fail "missing $deb (dist has: $(ls "$build/dist"))"
[ -f "$rpm" ] || fail "missing $rpm (dist has: $(ls "$build/dist"))"
ok "$(basename "$deb")"
ok "$(basename "$rpm")"

# --- Linters ---------------------------------------------------------------------------
step "lintian"
# Errors and warnings fail; info tags and the overrides (with their reasons,
# from packaging/deb/lintian-overrides) are shown.
lintian -I --show-overrides --fail-on error "$deb" >"$work/lintian.txt" 2>&1 ||
	{ cat "$work/lintian.txt"; fail "lintian failed or found errors"; }
grep -v '^running with root privileges' "$work/lintian.txt" | sed 's/^/  /' || true
if grep -Eq '^[EW]: ' "$work/lintian.txt"; then fail "lintian reported errors or warnings"; fi
ok "lintian: no errors, no warnings"

step "rpmlint"
rpmlint -c "$pkgdir/rpm/rpmlint.toml" -r "$pkgdir/rpm/eca-rotator.rpmlintrc" "$rpm" >"$work/rpmlint.txt" 2>&1 ||
	{ cat "$work/rpmlint.txt"; fail "rpmlint failed (filters: packaging/rpm/eca-rotator.rpmlintrc)"; }
grep -v '^running with root privileges' "$work/rpmlint.txt" | sed 's/^/  /' || true
grep -q ' 0 errors, 0 warnings' "$work/rpmlint.txt" || fail "rpmlint reported errors or warnings"
ok "rpmlint: 0 errors, 0 warnings"

# --- Contents ----------------------------------------------------------------------------
step "Contents of the .deb"
dpkg-deb -c "$deb" | awk '{ p = $6; sub(/^\./, "", p); print $1, $2, p }' >"$work/deb.list"
deb_expect=(
	"-rwxr-xr-x root/root /usr/bin/eca-rotator"
	"-rw-r----- root/root /etc/eca-rotator/agent.toml"
	"drwxr-xr-x root/root /etc/eca-rotator/conf.d/"
	"-rw-r--r-- root/root /etc/default/eca-rotator"
	"-rw-r--r-- root/root /usr/lib/systemd/system/eca-rotator.service"
	"-rw-r--r-- root/root /usr/lib/sysusers.d/eca-rotator.conf"
	"-rw-r--r-- root/root /usr/lib/tmpfiles.d/eca-rotator.conf"
	"-rw-r--r-- root/root /usr/share/man/man8/eca-rotator.8.gz"
	"-rw-r--r-- root/root /usr/share/doc/eca-rotator/copyright"
	"-rw-r--r-- root/root /usr/share/doc/eca-rotator/changelog.Debian.gz"
	"-rw-r--r-- root/root /usr/share/lintian/overrides/eca-rotator"
)
for e in "${deb_expect[@]}"; do
	grep -qxF -- "$e" "$work/deb.list" || fail ".deb lacks '$e'"
done
ok "${#deb_expect[@]} paths with their modes"
nfiles=$(grep -c '^-' "$work/deb.list")
assert_eq ".deb file count" "$nfiles" "$(printf '%s\n' "${deb_expect[@]}" | grep -c '^-')"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$work/conffiles"
assert_eq "conffiles" "$(sort "$work/conffiles" | tr '\n' ' ')" "/etc/default/eca-rotator /etc/eca-rotator/agent.toml "
depends=$(dpkg-deb -f "$deb" Depends)
for d in libc6 libcurl4 libgcc-s1 libssl3 libstdc++6; do
	[[ ", $depends," == *", $d "* || ", $depends," == *", $d,"* ]] || fail "Depends lacks $d: $depends"
done
# Linked in (CMakeLists.txt): no package of theirs may be required.
for d in libsodium libtomlplusplus; do
	[[ $depends != *"$d"* ]] || fail "Depends names $d, which is linked into the binary: $depends"
done
ok "Depends: $depends"
file -b "$deb" | grep -q 'Debian binary package' || fail "not a Debian package: $(file -b "$deb")"

step "Contents of the .rpm"
rpm -qlp "$rpm" | sort >"$work/rpm.list"
cat >"$work/rpm.expect" <<'EOF'
/etc/eca-rotator
/etc/eca-rotator/agent.toml
/etc/eca-rotator/conf.d
/etc/sysconfig/eca-rotator
/usr/bin/eca-rotator
/usr/lib/systemd/system/eca-rotator.service
/usr/lib/sysusers.d/eca-rotator.conf
/usr/lib/tmpfiles.d/eca-rotator.conf
/usr/share/licenses/eca-rotator
/usr/share/licenses/eca-rotator/LICENSE
/usr/share/man/man8/eca-rotator.8.gz
EOF
# Exactly these paths: in particular no shared system directory (/etc,
# /usr/bin, /usr/lib/systemd/system, /etc/sysconfig, ...) is owned.
diff -u "$work/rpm.expect" "$work/rpm.list" || fail "rpm -qlp differs from the expected layout"
ok "rpm -qlp: $(wc -l <"$work/rpm.list") paths, no shared directory"
assert_eq "agent.toml in the .rpm" \
	"$(rpm -qp --qf '[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]' "$rpm" | grep '/agent.toml ')" \
	"/etc/eca-rotator/agent.toml -rw-r----- root:eca-rotator cn"
assert_eq "rpm config files" "$(rpm -qcp "$rpm" | tr '\n' ' ')" "/etc/eca-rotator/agent.toml /etc/sysconfig/eca-rotator "
requires=$(rpm -qpR "$rpm")
for r in 'libcurl.so.4()(64bit)' 'libstdc++.so.6()(64bit)' 'libc.so.6()(64bit)' 'ca-certificates'; do
	grep -qxF "$r" <<<"$requires" || fail "rpm Requires lacks $r"
done
ok "rpm Requires: libcurl, libstdc++, libc and ca-certificates"
scripts=$(rpm -qp --scripts "$rpm")
for s in preinstall postinstall preuninstall postuninstall; do
	grep -q "^$s scriptlet" <<<"$scripts" || fail "rpm has no $s scriptlet"
done
ok "rpm -q --scripts: pre, post, preun, postun"
grep -q 'EnvironmentFile=-/etc/sysconfig/eca-rotator' < <(rpm2cpio "$rpm" | (cd "$work" && cpio -i --quiet --to-stdout ./usr/lib/systemd/system/eca-rotator.service)) ||
	fail "the .rpm's unit does not read /etc/sysconfig/eca-rotator"
ok "the .rpm's unit reads /etc/sysconfig/eca-rotator"

# --- Portability -------------------------------------------------------------------------
step "Dependencies: satisfiable on RHEL 9 + EPEL 9, Amazon Linux 2023, Ubuntu 22.04 (check-deps.sh)"
if ! bash "$pkgdir/check-deps.sh" "$rpm" "$deb" 2>&1 | sed 's/^/  /'; then
	fail "packaging/check-deps.sh: a requirement above is not satisfiable everywhere we ship"
fi
ok "check-deps.sh: rpm Requires, deb Depends and the binary's symbol versions"

# --- Unit and man page ------------------------------------------------------------------
step "Unit and man page"
mkdir -p "$work/deb-data"
dpkg-deb -x "$deb" "$work/deb-data"
unit="$work/deb-data/usr/lib/systemd/system/eca-rotator.service"
systemd-analyze security --offline=yes "$unit" >"$work/security.txt" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for eca-rotator.service: \([0-9.]*\).*/\1/p' "$work/security.txt")
[ -n "$score" ] || { cat "$work/security.txt"; fail "systemd-analyze security gave no score"; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { grep '✗' "$work/security.txt"; fail "exposure $score > 2.0"; }
ok "systemd-analyze security --offline=yes: exposure $score"
man_warn=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$work/deb-data/usr/share/man/man8/eca-rotator.8.gz" 2>&1 >/dev/null || true)
[ -z "$man_warn" ] || fail "man page warnings: $man_warn"
ok "man page renders without warnings"
man_text=$(MANWIDTH=200 man -E UTF-8 -l "$work/deb-data/usr/share/man/man8/eca-rotator.8.gz" 2>/dev/null)
help_text=$("$work/deb-data/usr/bin/eca-rotator" --help)
for word in $(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p; s/^  \(--[a-z-]*\).*/\1/p' <<<"$help_text"); do
	grep -qw -- "$word" <<<"$man_text" || fail "man page does not mention '$word' from --help"
done
ok "the man page covers every command and option of --help"

# --- Throwaway roots ------------------------------------------------------------------------
step "Waiting for the throwaway root (mmdebstrap)"
if [ -n "$bg_pid" ]; then
	if ! wait "$bg_pid"; then
		bg_pid=""
		tail -n 30 "$work/mmdebstrap.log"
		fail "mmdebstrap could not build a $suite root from $mirror (log above)"
	fi
	bg_pid=""
fi
[ -f "$rootfs_tar" ] || fail "no root tarball $rootfs_tar"
new_root() { # new_root NAME: extract the tarball into $roots/NAME
	local r="$roots/$1"
	mkdir -p "$r"
	tar -C "$r" -xf "$rootfs_tar"
	cp "$deb" "$rpm" "$r/tmp/"
	printf '%s\n' "$r"
}
# in_root ROOT CMD...: run in the root as root
in_root() { local r=$1; shift; chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
stat_in() { chroot "$1" stat -c '%a %U:%G' "$2"; }
ok "root tarball ready"
# systemd-tmpfiles refuses to run without /proc (the scripts then fall back to
# mkdir/chown, which the no-systemd root checks anyway).
mount_proc() {
	if mount -t proc proc "$1/proc" 2>/dev/null; then
		mounts+=("$1/proc")
		ok "/proc mounted in the root"
	else
		ok "cannot mount /proc here: systemd-tmpfiles will use the fallback"
	fi
}

# Values for what the shipped example leaves to the environment and to secret
# files, read from the example itself so that this follows its edits.
example="$repo/agent.toml.example"
env_vars=$(grep -v '^[[:space:]]*#' "$example" | grep -o '\${[A-Za-z_][A-Za-z0-9_]*' | cut -c3- | sort -u)
secret_files=$(grep -v '^[[:space:]]*#' "$example" | sed -n 's/^[[:space:]]*[a-z_]*_file[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' | sort -u)

# check_binary ROOT: --version, and validate + status as the service user on
# the shipped config, given env values and secret files.
check_binary() {
	local r=$1 v pk f
	assert_eq "installed --version" "$(in_root "$r" eca-rotator --version)" "eca-rotator $version"
	in_root "$r" eca-rotator keygen --out /root/recipient.key >/dev/null
	pk=$(cat "$r/root/recipient.key.pub")
	local envs=()
	for v in $env_vars; do
		case "$v" in
		*PUBLIC_KEY*) envs+=("$v=$pk") ;;
		*) envs+=("$v=test-$v") ;;
		esac
	done
	for f in $secret_files; do
		case "$f" in
		/*) ;;
		*) f="/etc/eca-rotator/$f" ;;
		esac
		mkdir -p "$r$(dirname "$f")"
		case "$f" in
		*.pem) cp /etc/ssl/certs/ca-certificates.crt "$r$f" ;;
		*) printf 'test-secret-%s\n' "$(basename "$f")" >"$r$f" ;;
		esac
		chroot "$r" chown root:eca-rotator "$f"
		chmod 0640 "$r$f"
	done
	local out
	out=$(chroot --userspec=eca-rotator:eca-rotator "$r" /usr/bin/env -i PATH=/usr/bin:/bin \
		"${envs[@]}" eca-rotator validate 2>&1) || { echo "$out"; fail "validate of the shipped config failed"; }
	grep -q 'valid' <<<"$out" || fail "validate said: $out"
	ok "validate (as eca-rotator, env: ${env_vars//$'\n'/ }; files: ${secret_files//$'\n'/ }): $out"
	out=$(chroot --userspec=eca-rotator:eca-rotator "$r" /usr/bin/env -i PATH=/usr/bin:/bin \
		"${envs[@]}" eca-rotator status 2>&1) || { echo "$out"; fail "status failed"; }
	ok "status runs as eca-rotator ($(wc -l <<<"$out") lines)"
}

# check_installed ROOT: user, directories, modes, enablement.
check_installed() {
	local r=$1
	in_root "$r" getent passwd eca-rotator >/dev/null || fail "no eca-rotator user"
	assert_eq "eca-rotator's home and shell" \
		"$(in_root "$r" getent passwd eca-rotator | cut -d: -f6,7)" "/var/lib/eca-rotator:/usr/sbin/nologin"
	assert_eq "/var/lib/eca-rotator" "$(stat_in "$r" /var/lib/eca-rotator)" "700 eca-rotator:eca-rotator"
	assert_eq "/etc/eca-rotator/agent.toml" "$(stat_in "$r" /etc/eca-rotator/agent.toml)" "640 root:eca-rotator"
	assert_eq "/etc/eca-rotator/conf.d" "$(stat_in "$r" /etc/eca-rotator/conf.d)" "755 root:root"
	[ -L "$r/etc/systemd/system/multi-user.target.wants/eca-rotator.service" ] ||
		fail "eca-rotator.service is not enabled"
	ok "eca-rotator.service enabled (not started: systemd is not running in the root)"
}

step "The .deb in a root with systemd-sysusers and systemd-tmpfiles (/proc mounted)"
rA=$(new_root deb-systemd)
mount_proc "$rA"
in_root "$rA" dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg-install.txt" 2>&1 ||
	{ cat "$work/dpkg-install.txt"; fail "dpkg -i"; }
cat "$work/dpkg-install.txt"
grep -q "enabled but not started" "$work/dpkg-install.txt" || fail "postinst did not say it left the service stopped"
check_installed "$rA"
check_binary "$rA"
# verify needs the binary, /bin/kill and systemd's own units: the root has them.
systemd-analyze verify --man=no --root="$rA" /usr/lib/systemd/system/eca-rotator.service \
	>"$work/verify.txt" 2>&1 || { cat "$work/verify.txt"; fail "systemd-analyze verify"; }
[ ! -s "$work/verify.txt" ] || { cat "$work/verify.txt"; fail "systemd-analyze verify complained"; }
ok "systemd-analyze verify of the installed unit"
# README's drop-in for a [[deliver]] path outside /run/eca-rotator, as `systemctl edit`
# would write it: systemd must read it with the unit and accept it; a misspelt key in the
# same place must be reported (so the check above really reads the drop-in).
dropin_dir="$rA/etc/systemd/system/eca-rotator.service.d"
mkdir -p "$dropin_dir"
sed -n '/Another directory needs a drop-in/,/^  ```$/p' "$repo/README.md" | sed -n '/^  ```ini$/,/^  ```$/p' |
	sed -e '1d' -e '$d' -e 's/^  //' >"$dropin_dir/override.conf"
grep -q '^ReadWritePaths=/' "$dropin_dir/override.conf" ||
	{ cat "$dropin_dir/override.conf"; fail "README's ReadWritePaths= drop-in was not found"; }
systemd-analyze verify --man=no --root="$rA" /usr/lib/systemd/system/eca-rotator.service \
	>"$work/verify-dropin.txt" 2>&1 || { cat "$work/verify-dropin.txt"; fail "systemd-analyze verify with the drop-in"; }
[ ! -s "$work/verify-dropin.txt" ] || { cat "$work/verify-dropin.txt"; fail "systemd-analyze verify complained about README's drop-in"; }
sed 's/^ReadWritePaths=/ReadWritePath=/' "$dropin_dir/override.conf" >"$dropin_dir/zz-typo.conf"
systemd-analyze verify --man=no --root="$rA" /usr/lib/systemd/system/eca-rotator.service \
	>"$work/verify-typo.txt" 2>&1 || true
grep -q 'ReadWritePath' "$work/verify-typo.txt" ||
	{ cat "$work/verify-typo.txt"; fail "systemd-analyze verify did not read the drop-in directory"; }
rm -r "$dropin_dir"
ok "README's ReadWritePaths= drop-in is read and accepted with the unit"
echo "# edited" >>"$rA/etc/eca-rotator/agent.toml"
echo marker >"$rA/var/lib/eca-rotator/marker"
in_root "$rA" dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg-reinstall.txt" 2>&1 ||
	{ cat "$work/dpkg-reinstall.txt"; fail "dpkg -i (reinstall, the upgrade path)"; }
tail -n 1 "$rA/etc/eca-rotator/agent.toml" | grep -qx '# edited' || fail "reinstall replaced the edited config"
assert_eq "edited agent.toml after reinstall" "$(stat_in "$rA" /etc/eca-rotator/agent.toml)" "640 root:eca-rotator"
ok "reinstall (upgrade path) kept the edited config"
in_root "$rA" dpkg -r eca-rotator >"$work/dpkg-remove.txt" 2>&1 || { cat "$work/dpkg-remove.txt"; fail "dpkg -r"; }
[ ! -e "$rA/usr/bin/eca-rotator" ] || fail "remove left /usr/bin/eca-rotator"
[ -f "$rA/etc/eca-rotator/agent.toml" ] || fail "remove deleted agent.toml"
[ -f "$rA/var/lib/eca-rotator/marker" ] || fail "remove deleted the state"
[ ! -L "$rA/etc/systemd/system/multi-user.target.wants/eca-rotator.service" ] || fail "remove left the service enabled"
ok "remove: binary gone, service disabled, config and state kept"
in_root "$rA" dpkg -P eca-rotator >"$work/dpkg-purge.txt" 2>&1 || { cat "$work/dpkg-purge.txt"; fail "dpkg -P"; }
for p in /etc/eca-rotator /var/lib/eca-rotator /etc/default/eca-rotator; do
	[ ! -e "$rA$p" ] || fail "purge left $p"
done
in_root "$rA" dpkg-query -W eca-rotator >/dev/null 2>&1 && fail "dpkg still knows eca-rotator after purge"
ok "purge: config, state and /etc/default/eca-rotator gone"

step "The .deb in a root without systemd-sysusers/systemd-tmpfiles (useradd fallback)"
rB=$(new_root deb-fallback)
rm "$rB/usr/bin/systemd-sysusers" "$rB/usr/bin/systemd-tmpfiles"
in_root "$rB" dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg-fallback.txt" 2>&1 ||
	{ cat "$work/dpkg-fallback.txt"; fail "dpkg -i (fallback)"; }
check_installed "$rB"
assert_eq "--version (fallback root)" "$(in_root "$rB" eca-rotator --version)" "eca-rotator $version"
in_root "$rB" dpkg -P eca-rotator >/dev/null 2>&1 || fail "dpkg -P (fallback)"
[ ! -e "$rB/var/lib/eca-rotator" ] && [ ! -e "$rB/etc/eca-rotator" ] || fail "purge (fallback) left files"
ok "install and purge with useradd and mkdir"

step "The service under systemd: boot the root with systemd-nspawn"
# The installed unit with all its sandboxing, run by systemd 252 as PID 1 of a
# container: it must start (Type=notify), survive a short watchdog, reload,
# read a LoadCredential= journal key, and stop cleanly. The config cannot
# reach Salesforce from here: the daemon logs that and keeps running.
if [ "${ECA_PKG_SKIP_BOOT:-0}" = 1 ]; then
	ok "skipped (ECA_PKG_SKIP_BOOT=1)"
else
	rD=$(new_root boot)
	in_root "$rD" dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg-boot.txt" 2>&1 ||
		{ cat "$work/dpkg-boot.txt"; fail "dpkg -i (boot root)"; }
	check_binary "$rD" >/dev/null # writes the secret files and /root/recipient.key
	for v in $env_vars; do
		case "$v" in
		*PUBLIC_KEY*) echo "$v=$(cat "$rD/root/recipient.key.pub")" ;;
		*) echo "$v=test-$v" ;;
		esac
	done >>"$rD/etc/default/eca-rotator"
	mkdir -p "$rD/etc/credstore" "$rD/etc/systemd/system/eca-rotator.service.d"
	head -c 32 /dev/urandom >"$rD/etc/credstore/eca-rotator-journal-key"
	chmod 0600 "$rD/etc/credstore/eca-rotator-journal-key"
	cat >"$rD/etc/systemd/system/eca-rotator.service.d/test.conf" <<'EOF2'
[Service]
WatchdogSec=2s
LoadCredential=journal-key:/etc/credstore/eca-rotator-journal-key
EOF2
	# A [[deliver]] file outside /run/eca-rotator, written only with README's
	# ReadWritePaths= drop-in. Its source is a pair published to the sandbox, which
	# runs on the host's loopback (the container shares the host's network).
	sandbox_bin=${ECA_SANDBOX_BIN:-$repo/build/tests/eca-sandbox}
	[ -x "$sandbox_bin" ] ||
		fail "no sandbox at $sandbox_bin: build it (cmake --build build --target eca-sandbox) or set ECA_SANDBOX_BIN"
	"$sandbox_bin" --apps 1 --env-file "$work/sandbox.env" >"$work/sandbox.out" 2>"$work/sandbox.log" &
	sandbox_pid=$!
	for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.1; done
	[ -s "$work/sandbox.env" ] || { cat "$work/sandbox.log"; fail "the sandbox did not start"; }
	# shellcheck disable=SC1091 # written just above
	. "$work/sandbox.env"
	printf '%s' "$SANDBOX_INFISICAL_CLIENT_SECRET" >"$rD/root/inf-secret"
	printf '%s' "$SANDBOX_CONNECTION_CLIENT_SECRET" >"$rD/root/sf-secret"
	cat >"$rD/root/rotator.toml" <<EOF2
[agent]
state_dir = "/root/rotator-state"
[infisical]
url = "$SANDBOX_INFISICAL_URL"
project_id = "$SANDBOX_PROJECT_ID"
environment = "prod"
[infisical.auth]
client_id = "$SANDBOX_INFISICAL_CLIENT_ID"
client_secret_file = "/root/inf-secret"
[encryption]
mode = "sealed-box"
recipient_public_key = "$(cat "$rD/root/recipient.key.pub")"
[connections.sandbox]
my_domain_url = "$SANDBOX_SALESFORCE_URL"
client_id = "$SANDBOX_CONNECTION_CLIENT_ID"
client_secret_file = "/root/sf-secret"
[[rotation]]
name = "billing"
connection = "sandbox"
app_id = "$SANDBOX_APP_IDS"
interval_days = 30
secret_path = "/salesforce/billing"
EOF2
	chmod 0600 "$rD/root/rotator.toml" "$rD/root/inf-secret" "$rD/root/sf-secret"
	in_root "$rD" eca-rotator --config /root/rotator.toml rotate billing >"$work/rotate.txt" 2>&1 ||
		{ cat "$work/rotate.txt"; fail "publishing a pair to the sandbox for the delivery"; }
	# The service reads it as the consumer: the sandbox's identity, the key of this root.
	printf '%s\n' "$SANDBOX_INFISICAL_CLIENT_SECRET" >"$rD/etc/eca-rotator/infisical-client-secret"
	echo "INFISICAL_CLIENT_ID=$SANDBOX_INFISICAL_CLIENT_ID" >>"$rD/etc/default/eca-rotator"
	install -m 0600 "$rD/root/recipient.key" "$rD/etc/eca-rotator/consumer.key"
	chroot "$rD" chown eca-rotator:eca-rotator /etc/eca-rotator/consumer.key
	mkdir -p "$rD/etc/billing-sync"
	chroot "$rD" chown eca-rotator:eca-rotator /etc/billing-sync
	cat >"$rD/etc/eca-rotator/conf.d/50-deliver.toml" <<EOF2
[infisical]
url = "$SANDBOX_INFISICAL_URL"
project_id = "$SANDBOX_PROJECT_ID"
environment = "prod"

[[deliver]]
name = "billing"
secret_path = "/salesforce/billing"
source_interval_days = 30
private_key_file = "/etc/eca-rotator/consumer.key"
path = "/etc/billing-sync/salesforce.env"
EOF2
	chmod 0640 "$rD/etc/eca-rotator/conf.d/50-deliver.toml"
	chroot "$rD" chown root:eca-rotator /etc/eca-rotator/conf.d/50-deliver.toml
	sed -n '/Another directory needs a drop-in/,/^  ```$/p' "$repo/README.md" | sed -n '/^  ```ini$/,/^  ```$/p' |
		sed -e '1d' -e '$d' -e 's/^  //' >"$rD/root/readme-dropin.conf"
	grep -qx 'ReadWritePaths=/etc/billing-sync' "$rD/root/readme-dropin.conf" ||
		fail "README's drop-in no longer names /etc/billing-sync; update this test with it"
	cat >"$rD/usr/local/sbin/eca-boot-test" <<'EOF2'
#!/bin/sh
exec >/boot-test.txt 2>&1
systemctl start eca-rotator.service && echo "start: ok"
sleep 7
systemctl show -p ActiveState -p SubState -p NRestarts -p Result eca-rotator.service
systemctl reload eca-rotator.service && echo "reload: ok"
sleep 1
systemctl show -p ActiveState -p SubState -p NRestarts eca-rotator.service | sed 's/^/after-reload-/'
ls /var/lib/eca-rotator | sed 's/^/state: /'
stat -c 'state-dir: %a %U:%G' /var/lib/eca-rotator
stat -c 'runtime-dir: %a %U:%G' /run/eca-rotator
systemctl stop eca-rotator.service && echo "stop: ok"
systemctl show -p ActiveState -p Result -p ExecMainStatus eca-rotator.service | sed 's/^/after-stop-/'
journalctl -u eca-rotator.service --no-pager -o cat | sed 's/^/journal: /'
[ -e /etc/billing-sync/salesforce.env ] && echo "deliver: written without the drop-in"
cp /root/readme-dropin.conf /etc/systemd/system/eca-rotator.service.d/deliver.conf
systemctl daemon-reload
systemctl start eca-rotator.service && echo "start-with-dropin: ok"
for i in $(seq 30); do [ -s /etc/billing-sync/salesforce.env ] && break; sleep 1; done
stat -c 'deliver-file: %a %U:%G' /etc/billing-sync/salesforce.env
cut -d= -f1 /etc/billing-sync/salesforce.env | sed 's/^/deliver-var: /'
systemctl stop eca-rotator.service && echo "stop-with-dropin: ok"
echo "done"
systemctl poweroff
EOF2
	chmod 0755 "$rD/usr/local/sbin/eca-boot-test"
	cat >"$rD/etc/systemd/system/eca-boot-test.service" <<'EOF2'
[Unit]
Description=eca-rotator package test
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/eca-boot-test
[Install]
WantedBy=multi-user.target
EOF2
	ln -s /etc/systemd/system/eca-boot-test.service "$rD/etc/systemd/system/multi-user.target.wants/"
	timeout 180 systemd-nspawn -q -D "$rD" --boot --register=no --keep-unit \
		--machine=eca-pkg-test >"$work/nspawn.txt" 2>&1 || true
	[ -f "$rD/boot-test.txt" ] && grep -qx "done" "$rD/boot-test.txt" ||
		{ tail -n 30 "$work/nspawn.txt"; cat "$rD/boot-test.txt" 2>/dev/null; fail "the container did not run the service test (set ECA_PKG_SKIP_BOOT=1 where systemd-nspawn cannot boot)"; }
	sed 's/^/    /' "$rD/boot-test.txt"
	bt="$rD/boot-test.txt"
	for want in "start: ok" "ActiveState=active" "SubState=running" "NRestarts=0" "reload: ok" \
		"after-reload-ActiveState=active" "after-reload-NRestarts=0" "state-dir: 700 eca-rotator:eca-rotator" \
		"runtime-dir: 750 eca-rotator:eca-rotator" \
		"stop: ok" "after-stop-Result=success" "after-stop-ExecMainStatus=0"; do
		grep -qxF -- "$want" "$bt" || fail "service under systemd: expected '$want'"
	done
	grep -qx 'state: journal.key' "$bt" && fail "the daemon ignored the journal-key credential"
	grep -q '^journal: .*/etc/billing-sync: .*drop-in with ReadWritePaths=/etc/billing-sync;' "$bt" ||
		fail "without the drop-in, the delivery's error does not name ReadWritePaths=/etc/billing-sync"
	grep -qx 'deliver: written without the drop-in' "$bt" && fail "the delivery wrote to /etc without ReadWritePaths="
	for want in "start-with-dropin: ok" "deliver-file: 600 eca-rotator:eca-rotator" \
		"deliver-var: SALESFORCE_CONSUMER_KEY" "deliver-var: SALESFORCE_CONSUMER_SECRET" "stop-with-dropin: ok"; do
		grep -qxF -- "$want" "$bt" || fail "[[deliver]] outside the runtime directory: expected '$want'"
	done
	# The pair authenticates at the sandbox org (client credentials), without printing it.
	(
		# shellcheck disable=SC1091 # the delivered env file: NAME='value' lines
		. "$rD/etc/billing-sync/salesforce.env"
		curl -fsS -o /dev/null "$SANDBOX_SALESFORCE_URL/services/oauth2/token" -d grant_type=client_credentials \
			--data-urlencode "client_id=$SALESFORCE_CONSUMER_KEY" --data-urlencode "client_secret=$SALESFORCE_CONSUMER_SECRET"
	) || fail "the delivered pair does not authenticate at the sandbox org"
	ok "[[deliver]] to /etc/billing-sync: refused by the unit's sandbox with a ReadWritePaths= hint, delivered (0600) with README's drop-in"
	ok "started (notify), watchdog 2s kept, reloaded, journal key from LoadCredential=, [[deliver]] runtime directory 0750, stopped with status 0"
fi

step "The .rpm with rpm --root (scriptlets run chrooted in the root; /proc mounted)"
rC=$(new_root rpm)
mount_proc "$rC"
rpm --root "$rC" --initdb
# rpm_in LOG ARGS...: rpm --root, failing on any scriptlet failure (rpm itself
# only warns about %post and %postun ones).
rpm_in() {
	local log="$work/$1"; shift
	rpm --root "$rC" "$@" >"$log" 2>&1 || { cat "$log"; fail "rpm $*"; }
	grep -v 'RPM should not be used directly\|assuming you know what you are doing' "$log" || true
	if grep -qi 'scriptlet failed\|warning: .*does not exist' "$log"; then fail "rpm $*: scriptlet or ownership problem"; fi
}
rpm_in rpm-install.txt -ivh --nodeps "$rpm"
check_installed "$rC"
check_binary "$rC"
rpm --root "$rC" -q --scripts eca-rotator | grep -c 'scriptlet (using /bin/sh)' | grep -qx 4 ||
	fail "rpm -q --scripts does not show the 4 scriptlets"
ok "rpm -q --scripts shows pre, post, preun and postun"
echo marker >"$rC/var/lib/eca-rotator/marker"
rpm_in rpm-upgrade.txt -Uvh --replacepkgs --nodeps "$rpm"
check_installed "$rC"
ok "upgrade (same version, --replacepkgs): scriptlets ran, service still enabled"
rpm_in rpm-erase.txt -e eca-rotator
[ ! -e "$rC/usr/bin/eca-rotator" ] || fail "rpm -e left /usr/bin/eca-rotator"
[ ! -L "$rC/etc/systemd/system/multi-user.target.wants/eca-rotator.service" ] || fail "rpm -e left the service enabled"
[ -f "$rC/var/lib/eca-rotator/marker" ] || fail "rpm -e deleted the state"
ok "erase: binary gone, service disabled, state kept"

step "All package checks passed in $(($(date +%s) - start))s"
printf '  %s\n  %s\n  lintian: clean; rpmlint: clean; exposure %s\n' "$deb" "$rpm" "$score"

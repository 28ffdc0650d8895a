#!/usr/bin/env bash
# Checks that a built eca-rotator can be installed where we ship it:
#   .rpm  RHEL 9 family (Rocky/Alma/RHEL 9 + EPEL 9) and Amazon Linux 2023,
#   .deb  Debian 12, Ubuntu 22.04 and 24.04.
# Usage:  bash packaging/check-deps.sh FILE...
#   FILE is an .rpm (checks `rpm -qpR`), a .deb (checks `dpkg-deb -f Depends`
#   and the binary inside it) or an ELF binary (checks its versioned symbols
#   and DT_NEEDED libraries). Exits 1 naming every offending requirement.
#
# The limits are the oldest of the target systems (see packaging/README.md):
#   glibc      GLIBC_2.34       (RHEL 9: 2.34; Amazon Linux 2023: 2.34)
#   libstdc++  GLIBCXX_3.4.29, CXXABI_1.3.13  (GCC 11's, RHEL 9)
#   libgcc_s   GCC_4.2.0        (what the agent needs today; anything newer
#                                must first be checked against GCC 11's libgcc_s)
#   libcurl    libcurl.so.4 without Debian's CURL_OPENSSL_4 symbol version
#              (Fedora/RHEL/Amazon Linux build curl without versioned symbols)
#   libcrypto  libcrypto.so.3, symbol version OPENSSL_3.0.0 only (RHEL 9 and Amazon
#              Linux 2023: openssl-libs 3.0+; Ubuntu 22.04: libssl3 3.0.2)
#   libsodium  not required: Amazon Linux 2023 has no libsodium package, so it
#              is linked statically
#   toml++     never: no target system but Debian 12 packages libtomlplusplus
#   .deb       every versioned dependency satisfiable by Ubuntu 22.04's archive.
set -euo pipefail
export LC_ALL=C

max_glibc=2.34
max_glibcxx=3.4.29
max_cxxabi=1.3.13
max_gcc=4.2.0
# Ubuntu 22.04 (jammy) versions of what the .deb may depend on: a "(>= V)"
# must have V <= these. Packages without a version here may appear unversioned.
declare -A jammy=(
	[libc6]=2.35 [libcurl4]=7.81.0 [libstdc++6]=12.3.0 [libgcc-s1]=12.3.0 [libssl3]=3.0.2
	[passwd]="" [procps]="" [ca-certificates]="" [systemd]=""
)
# Libraries the binary may load, present on every target system.
allowed_needed='^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libcurl\.so\.4|libcrypto\.so\.3|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'

problems=0
bad() { printf '  FAIL: %s\n' "$*"; problems=$((problems + 1)); }
# le A B: true when version A <= version B (dotted numbers).
le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; }

check_elf() { # check_elf FILE
	local f=$1 v sym lib worst_glibc worst_glibcxx worst_cxxabi
	command -v objdump >/dev/null || { echo "check-deps: objdump missing: apt-get install binutils" >&2; exit 2; }
	echo "binary $f"
	while read -r lib; do
		[[ $lib =~ $allowed_needed ]] || bad "$f needs $lib (NEEDED): not a library known to be on every target system"
	done < <(objdump -p "$f" | awk '$1 == "NEEDED" { print $2 }')
	# Every versioned dynamic symbol as "<version> <name>", then each version once.
	local syms
	syms=$(objdump -T "$f" | awk 'NF >= 6 { v = $(NF-1); gsub(/[()]/, "", v); if (v ~ /_/ && v != "Base") print v, $NF }' | sort -u)
	for v in $(cut -d' ' -f1 <<<"$syms" | sort -u); do
		sym=$(awk -v v="$v" '$1 == v { print $2 }' <<<"$syms" | head -n 3 | paste -sd, -)
		case "$v" in
		GLIBC_2.*) le "${v#GLIBC_}" "$max_glibc" || bad "$sym@$v: newer than GLIBC_$max_glibc (RHEL 9, Amazon Linux 2023)" ;;
		GLIBCXX_*) le "${v#GLIBCXX_}" "$max_glibcxx" || bad "$sym@$v: newer than GLIBCXX_$max_glibcxx (RHEL 9's libstdc++)" ;;
		CXXABI_1*) le "${v#CXXABI_}" "$max_cxxabi" || bad "$sym@$v: newer than CXXABI_$max_cxxabi (RHEL 9's libstdc++)" ;;
		GCC_*) le "${v#GCC_}" "$max_gcc" || bad "$sym@$v: newer than GCC_$max_gcc (libgcc_s)" ;;
		CURL_OPENSSL_*) ;; # libcurl.so.4's version on Debian; ld.so ignores it where libcurl has none
		OPENSSL_3.0.0) ;;  # libcrypto.so.3's base version, in every OpenSSL 3
		GLIBC_PRIVATE) bad "$sym@GLIBC_PRIVATE: not a stable glibc interface" ;;
		*) bad "$sym@$v: symbol version of an unexpected library" ;;
		esac
	done
	highest() { cut -d' ' -f1 <<<"$syms" | sed -n "s/^$1_\([0-9.]*\)\$/\1/p" | sort -V | tail -n 1; }
	worst_glibc=$(highest GLIBC)
	worst_glibcxx=$(highest GLIBCXX)
	worst_cxxabi=$(highest CXXABI)
	local cxx="GLIBCXX_$worst_glibcxx CXXABI_$worst_cxxabi"
	[ -n "$worst_glibcxx$worst_cxxabi" ] || cxx="no GLIBCXX or CXXABI reference (libstdc++ linked in or not used)"
	printf '  highest symbol versions: GLIBC_%s, %s\n' "$worst_glibc" "$cxx"
}

check_rpm() { # check_rpm FILE
	local f=$1 r v
	command -v rpm >/dev/null || { echo "check-deps: rpm missing: apt-get install rpm" >&2; exit 2; }
	echo "rpm $f"
	while read -r r; do
		[ -n "$r" ] || continue
		case "$r" in
		*tomlplusplus*) bad "Requires $r: libtomlplusplus exists only in Debian's archive" ;;
		libcurl.so.4\(\)\(64bit\)) ;;
		libcurl.so.4\(*) bad "Requires $r: a Debian libcurl symbol version; RHEL 9 and Amazon Linux 2023 provide only libcurl.so.4()(64bit)" ;;
		libsodium*) bad "Requires $r: Amazon Linux 2023 has no libsodium (link it statically)" ;;
		libcrypto.so.3\(\)\(64bit\) | libcrypto.so.3\(OPENSSL_3.0.0\)\(64bit\)) ;;
		libc.so.6\(GLIBC_2.*)
			v=${r#libc.so.6(GLIBC_}; v=${v%%)*}
			le "$v" "$max_glibc" || bad "Requires $r: newer than GLIBC_$max_glibc (RHEL 9, Amazon Linux 2023)" ;;
		libc.so.6\(\)\(64bit\) | libm.so.6\(\)\(64bit\) | libgcc_s.so.1\(\)\(64bit\) | libstdc++.so.6\(\)\(64bit\)) ;;
		libm.so.6\(GLIBC_2.*)
			v=${r#libm.so.6(GLIBC_}; v=${v%%)*}
			le "$v" "$max_glibc" || bad "Requires $r: newer than GLIBC_$max_glibc" ;;
		libstdc++.so.6\(GLIBCXX_*)
			v=${r#libstdc++.so.6(GLIBCXX_}; v=${v%%)*}
			le "$v" "$max_glibcxx" || bad "Requires $r: newer than GLIBCXX_$max_glibcxx (RHEL 9's libstdc++)" ;;
		libstdc++.so.6\(CXXABI_1*)
			v=${r#libstdc++.so.6(CXXABI_}; v=${v%%)*}
			le "$v" "$max_cxxabi" || bad "Requires $r: newer than CXXABI_$max_cxxabi (RHEL 9's libstdc++)" ;;
		libgcc_s.so.1\(GCC_*)
			v=${r#libgcc_s.so.1(GCC_}; v=${v%%)*}
			le "$v" "$max_gcc" || bad "Requires $r: newer than GCC_$max_gcc (libgcc_s)" ;;
		config\(eca-rotator\)\ =\ *) ;; # rpmbuild's own, for the %config files: the package provides it
		/bin/sh | /usr/sbin/useradd | /usr/sbin/groupadd | /usr/bin/getent | ca-certificates | rtld\(GNU_HASH\) | rpmlib\(*) ;;
		*) bad "Requires $r: not known to be provided on RHEL 9 + EPEL 9 and Amazon Linux 2023 (add it to packaging/check-deps.sh once checked)" ;;
		esac
	done < <(rpm -qpR "$f" 2>/dev/null)
	rpm -qpR "$f" 2>/dev/null | sort -u | sed 's/^/  requires: /'
	local tmp
	tmp=$(mktemp -d)
	rpm2cpio "$f" | (cd "$tmp" && cpio -id --quiet ./usr/bin/eca-rotator)
	check_elf "$tmp/usr/bin/eca-rotator"
	rm -rf "$tmp"
}

check_deb() { # check_deb FILE
	local f=$1 dep clause name op ver
	command -v dpkg-deb >/dev/null || { echo "check-deps: dpkg-deb missing" >&2; exit 2; }
	echo "deb $f"
	dep=$(dpkg-deb -f "$f" Depends)
	echo "  Depends: $dep"
	IFS=',' read -ra clauses <<<"$dep"
	for clause in "${clauses[@]}"; do
		clause=$(sed 's/^ *//; s/ *$//' <<<"$clause")
		# Alternatives: the first one must be satisfiable.
		clause=${clause%%|*}
		name=$(awk '{ print $1 }' <<<"$clause")
		name=${name%%:*}
		if [[ -z ${jammy[$name]+set} ]]; then
			bad "Depends $clause: $name is not known to be in Ubuntu 22.04 (add it to packaging/check-deps.sh once checked)"
			continue
		fi
		if [[ $clause =~ \(([<>=]+)\ *([^\)]+)\) ]]; then
			op=${BASH_REMATCH[1]}
			ver=${BASH_REMATCH[2]}
			if [ -z "${jammy[$name]}" ]; then
				bad "Depends $clause: no Ubuntu 22.04 version of $name recorded to compare with"
			elif [ "$op" != ">=" ] || ! dpkg --compare-versions "$ver" le "${jammy[$name]}"; then
				bad "Depends $clause: Ubuntu 22.04 has $name ${jammy[$name]}"
			fi
		fi
	done
	local tmp
	tmp=$(mktemp -d)
	dpkg-deb -x "$f" "$tmp"
	check_elf "$tmp/usr/bin/eca-rotator"
	rm -rf "$tmp"
}

[ $# -gt 0 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
for f in "$@"; do
	[ -f "$f" ] || { echo "check-deps: no such file: $f" >&2; exit 2; }
	case "$f" in
	*.rpm) check_rpm "$f" ;;
	*.deb) check_deb "$f" ;;
	*) check_elf "$f" ;;
	esac
done
if [ "$problems" -gt 0 ]; then
	echo "check-deps: $problems requirement(s) not satisfiable on RHEL 9 + EPEL 9, Amazon Linux 2023 or Ubuntu 22.04 (above)" >&2
	exit 1
fi
echo "check-deps: all requirements satisfiable on RHEL 9 + EPEL 9, Amazon Linux 2023, Debian 12 and Ubuntu 22.04/24.04"

#!/bin/sh
# Fails early, with the Debian package to install, when a tool the 'packages'
# target needs is missing.
missing=""
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing="$missing dpkg-dev"
command -v rpmbuild >/dev/null 2>&1 || missing="$missing rpm"
command -v file >/dev/null 2>&1 || missing="$missing file"
if [ -n "$missing" ]; then
	echo "packages: missing tools; install them with: apt-get install$missing" >&2
	exit 1
fi

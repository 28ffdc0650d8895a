#!/usr/bin/env bash
# Installs what building and testing eca-rotator needs, from Debian's archive.
# Safe to run repeatedly; does nothing when everything is already there.
set -euo pipefail

packages=(
  g++ clang clang-format cmake ninja-build pkg-config git ca-certificates curl openssl
  libcurl4-openssl-dev libssl-dev rapidjson-dev libsodium-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

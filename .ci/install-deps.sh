#!/usr/bin/env bash
# Installs the Debian packages the project builds, tests and runs with. Needs root (or sudo).
# Does nothing when every package is already installed.
set -euo pipefail
packages=(build-essential meson ninja-build pkg-config libjansson-dev libuv1-dev libsqlite3-dev
          libssl-dev libyaml-dev libyajl-dev libicu-dev check python3 python3-jsonschema
          python3-hypothesis valgrind clang libclang-rt-14-dev libsodium-dev
          minisign libsimdjson-dev libwebsockets-dev libwebsockets-evlib-uv libdeflate-dev zlib1g-dev
          python3-websockets chromium postgresql libpq-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq || echo "apt-get update failed; trying the package lists on hand" >&2
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

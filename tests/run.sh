#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs, builds with
# -Werror, runs every test, then builds and runs everything again under AddressSanitizer and
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh

# -Werror in CI only (meson.build leaves it out of the defaults); set on a build dir kept from
# an earlier run too.
[ -d build ] || meson setup build -Dwerror=true
meson configure build -Dwerror=true
meson compile -C build
meson test -C build --print-errorlogs

[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all -Dwerror=true
meson configure build-asan -Dwerror=true
meson compile -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs
echo "all tests passed, plain and under ASan+UBSan"

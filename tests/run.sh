#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs, builds with
# -Werror, runs every test, then builds and runs everything again under AddressSanitizer and
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh

[ -d build ] || meson setup build
meson compile -C build
meson test -C build --print-errorlogs

[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all
meson compile -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs
echo "all tests passed, plain and under ASan+UBSan"

#!/usr/bin/env bash
# Builds the fuzz configuration (clang, libFuzzer, ASan+UBSan; build-fuzz/) and runs each
# target from its seed corpus in tests/fuzz/corpus/<target>/. Fails on the first crash, leak,
# sanitizer report or hang (an input taking longer than -timeout), naming the input that did it.
#
#   tests/fuzz/run.sh [-t SECONDS | -n RUNS] [-w DIR] [TARGET...]
#     -t  run each target this many seconds (default 20)
#     -n  run each target this many executions instead
#     -w  keep the work (grown corpora, crash inputs, logs) in DIR; default a temporary one.
#         The committed corpus is only read: new inputs go to DIR/<target>/corpus.
#   TARGETs: event-line event-data contract-json contract-yaml dates node-config ledger-verify
#   minisign json-check
#   (default: all). Each run's last status line (executions, exec/s, peak RSS) is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
all=(event-line event-data contract-json contract-yaml dates node-config ledger-verify minisign
  json-check)
limit=(-max_total_time=20)
work=""
while getopts "t:n:w:" opt; do
  case $opt in
    t) limit=(-max_total_time="$OPTARG") ;;
    n) limit=(-runs="$OPTARG") ;;
    w) work="$OPTARG" ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

[ -d build-fuzz ] || CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
  -Db_lundef=false -Dc_args=-fno-sanitize-recover=all -Dcpp_args=-fno-sanitize-recover=all > /dev/null
# clang's warnings are errors here as gcc's are in the other builds (also in a build-fuzz/
# configured before this line was).
meson configure build-fuzz -Dwerror=true > /dev/null
build_log="$(mktemp)"
if ! meson compile -C build-fuzz > "$build_log" 2>&1; then
  tail -n 30 "$build_log" >&2
  echo "the fuzz build failed (build-fuzz/ configured before a language was added? remove it)" >&2
  rm -f "$build_log"
  exit 1
fi
rm -f "$build_log"

if [ -z "$work" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  bin="build-fuzz/tests/fuzz/fuzz-$t"
  [ -x "$bin" ] || { echo "no fuzz target '$t' (known: ${all[*]})" >&2; exit 2; }
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  log="$work/$t/log"
  # -timeout: a single input taking 10 s is a hang. The grown corpus comes first: new inputs
  # are written there, never into the tree's seeds.
  if ! "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -dict=tests/fuzz/fuzz.dict -artifact_prefix="$work/$t/artifacts/" \
      "$work/$t/corpus" "tests/fuzz/corpus/$t" > "$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz-$t FAILED; input(s): $(ls "$work/$t/artifacts")" >&2
    trap - EXIT # keep the work directory, so the input can be replayed
    echo "work directory: $work" >&2
    exit 1
  fi
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  echo "fuzz-$t: ok: ${done_line:-$(tail -n 1 "$log")}"
done

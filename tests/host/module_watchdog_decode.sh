# module_watchdog_decode.sh SMART_HOST SPIN_MODULE — a module's decode_event (ABI 1.1), which
# the host runs on its parse-ahead thread, is watched as its on_event is (issue 11, defect 5):
# past $SMART_HOST_WATCHDOG_WARN_MS it is reported naming the module, the topic and the input
# line; past $SMART_HOST_WATCHDOG_LIMIT_MS the host ends (exit 8) with that message instead of
# waiting for it, and what it acknowledged before is intact.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$MODULE\"}]"
printf '%s\n' '{"topic":"spin.decode_for","data":{"ms":300}}' '{"topic":"spin.ping","data":{}}' \
    > "$D/events.jsonl"
SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=20000 \
    timeout 60 "$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "a slow decode"
expect_contains "$D/err" "warning: module test-spin: decode_event of spin.decode_for from $D/events.jsonl:1 (on the parse-ahead thread):"
[ "$(grep -c 'warning: module test-spin' "$D/err")" -eq 1 ] || fail "the slow decode was not reported once"
expect_contains "$D/out" '{"topic":"spin.done","data":{}}'
expect_contains "$D/out" '{"topic":"spin.pong","data":{}}'

# A decode that never returns, after an event taken: ended past the limit while the input is
# still open (the feeder holds it; no signal is sent, so the stop backstop plays no part).
rm -rf "$D/var"
mkfifo "$D/in"
: > "$D/out"
# The second line is sent once the first is answered, so that it comes in a batch of its own.
( printf '%s\n' '{"topic":"spin.ping","data":{}}'
  for _ in $(seq 200); do grep -q spin.pong "$D/out" && break; sleep 0.05; done
  printf '%s\n' '{"topic":"spin.decode_forever","data":{}}'
  exec sleep 60 ) > "$D/in" 2> /dev/null &
FEEDER=$!
SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=500 \
    timeout 30 "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err"
rc=$?
kill $FEEDER 2> /dev/null
[ $rc -ne 124 ] || fail "a decode that never returns hung the host"
expect_status 8 $rc "a decode that never returns"
expect_contains "$D/err" "warning: module test-spin: decode_event of spin.decode_forever from $D/in:2 (on the parse-ahead thread): running for"
expect_contains "$D/err" "fatal: module test-spin: decode_event of spin.decode_forever from $D/in:2 (on the parse-ahead thread): still running after"
expect_contains "$D/out" '{"topic":"spin.pong","data":{}}'
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

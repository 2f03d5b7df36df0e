# module_watchdog.sh SMART_HOST SPIN_MODULE — a module call that holds the loop (issue 11,
# defect 5): past $SMART_HOST_WATCHDOG_WARN_MS it is reported naming the module, the topic and
# the input line; past $SMART_HOST_WATCHDOG_LIMIT_MS the host ends (exit 8) with that message
# instead of hanging, and what it acknowledged before is intact.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$MODULE\"}]"
printf '%s\n' '{"topic":"spin.for","data":{"ms":300}}' '{"topic":"spin.ping","data":{}}' \
    > "$D/events.jsonl"
SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=20000 \
    timeout 60 "$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "a slow call"
expect_contains "$D/err" "warning: module test-spin: on_event of spin.for from $D/events.jsonl:1:"
[ "$(grep -c 'warning: module test-spin' "$D/err")" -eq 1 ] || fail "the slow call was not reported once"
expect_contains "$D/out" '{"topic":"spin.pong","data":{}}'

rm -rf "$D/var"
printf '%s\n' '{"topic":"spin.ping","data":{}}' > "$D/events.jsonl"
printf '%s\n' '{"topic":"spin.forever","data":{}}' > "$D/events2.jsonl"
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > /dev/null 2>&1
expect_status 0 $? "a run before"
SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=500 \
    timeout 60 "$HOST" run "$D/node.json" --events "$D/events2.jsonl" > "$D/out" 2> "$D/err"
rc=$?
[ $rc -ne 124 ] || fail "a call that never returns hung the host"
expect_status 8 $rc "a call that never returns"
expect_contains "$D/err" "fatal: module test-spin: on_event of spin.forever from $D/events2.jsonl:1: still running after"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

# module_posts.sh SMART_HOST TIMER_MODULE ECHO_MODULE — a module that posts itself an event from
# each on_event cannot keep the host from finishing (issue 11, defect 5): once the input has
# ended, 10,000 posted events are delivered, then the rest are dropped, the module is named on
# standard error and in the ledger (module.posts_dropped), and the host shuts down cleanly
# (exit 7, host.stopped) with the answers to its input given.
HOST=$(realpath -- "$1")
TIMER=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$TIMER\"}, {\"path\": \"$ECHO\"}]"
printf '%s\n' '{"topic":"timer.repost","data":{}}' '{"topic":"echo.ping","data":{"n":1}}' \
    > "$D/events.jsonl"
timeout 60 "$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
rc=$?
[ $rc -ne 124 ] || fail "a module posting itself events for ever kept the host from finishing"
expect_status 7 $rc "a module posting itself events for ever"
expect_contains "$D/err" "module test-timer: still posting itself events after the input ended (10000 delivered since)"
expect_contains "$D/out" '{"topic":"echo.pong","data":{"n":1}}'
L=$D/var/ledger.jsonl
grep '"action":"module.posts_dropped"' "$L" | grep -qF '"target":"test-timer"' ||
    fail "no module.posts_dropped record: $(cat "$L")"
grep '"action":"host.stopped"' "$L" | grep -qF '"exit_code":7' || fail "no host.stopped"
"$HOST" ledger verify "$L" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

# module_timers.sh SMART_HOST TIMER_MODULE ECHO_MODULE — a callback of a module's own handle
# holds the loop (issue 11, defect 5): the host never calls it (the module starts a timer on the
# host's loop), yet past $SMART_HOST_WATCHDOG_WARN_MS it is reported naming the module whose
# timer it is (not the module called last), and past $SMART_HOST_WATCHDOG_LIMIT_MS the host ends
# (exit 8) with that message; a loop that only waits, or timers that return, are never reported.
HOST=$(realpath -- "$1")
TIMER=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"
mkfifo "$D/in"
FEEDER=
trap '[ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null; rm -rf "$WORK"' EXIT
# feed SECONDS — a ping for the echo module (called last), then the input held open SECONDS.
feed() {
    ( printf '%s\n' '{"topic":"echo.ping","data":{"n":1}}'; exec sleep "$1" ) > "$D/in" 2> /dev/null &
    FEEDER=$!
}
# node MODE — the timer module in MODE, then the echo module.
node() {
    rm -rf "$D/var"
    write_node "$D" "[{\"path\": \"$TIMER\", \"config\": {\"mode\":\"$1\"}}, {\"path\": \"$ECHO\"}]"
}

# A loop that only waits on its input (nothing due for an hour), and timers that return at
# once, are not reported.
rm -rf "$D/var"
write_node "$D" "[{\"path\": \"$ECHO\"}]"
feed 1
SMART_HOST_WATCHDOG_WARN_MS=250 timeout 60 "$HOST" run "$D/node.json" --events "$D/in" \
    > "$D/out" 2> "$D/err"
expect_status 0 $? "an idle loop"
! grep -q warning "$D/err" || fail "an idle loop was reported: $(cat "$D/err")"
expect_contains "$D/out" '"topic":"echo.pong"'
node quiet
feed 1
SMART_HOST_WATCHDOG_WARN_MS=250 timeout 60 "$HOST" run "$D/node.json" --events "$D/in" \
    > "$D/out" 2> "$D/err"
expect_status 0 $? "timers that return"
! grep -q warning "$D/err" || fail "a timer that returns was reported: $(cat "$D/err")"
expect_contains "$D/out" '"topic":"echo.pong"'

# A timer callback holding the loop 300 ms is reported once, naming its module.
node slow
feed 1
SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=20000 timeout 60 \
    "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err"
expect_status 0 $? "a slow timer"
expect_contains "$D/err" "warning: module test-timer (a timer): a callback on the host's loop, outside any host call: running for"
[ "$(grep -c warning "$D/err")" -eq 1 ] || fail "the slow timer was not reported once: $(cat "$D/err")"
expect_contains "$D/out" '"topic":"echo.pong"'

# A timer callback that never returns ends the host past the limit, naming its module.
node spin
feed 30
SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=500 timeout 60 \
    "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err"
rc=$?
kill "$FEEDER" 2>/dev/null
[ $rc -ne 124 ] || fail "a timer that never returns hung the host"
expect_status 8 $rc "a timer that never returns"
expect_contains "$D/err" "fatal: module test-timer (a timer): a callback on the host's loop, outside any host call: still running after"
! grep -q 'test-echo' "$D/err" || fail "the module called last was blamed: $(cat "$D/err")"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

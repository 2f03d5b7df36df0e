# crash_decode_quarantine.sh SMART_HOST TIMER_MODULE ECHO_MODULE [KIND] — an event whose decoding
# crashes the host (a module's decode_event, on the parse-ahead thread) is set aside like one
# that crashes it in on_event: the note of the crash carries the event, so a second crash on it,
# resent as producers do (spacing and key order their own), quarantines it at the next start
# (event.quarantined, an alert, LEDGER.quarantine.jsonl), and from then on it is refused
# (input.rejected) before any module decodes it, instead of crashing the host at every restart.
HOST=$(realpath -- "$1")
TIMER=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
KIND=${4:-plain} # "sanitized": a sanitizer's handler, run after ours, ends the host its own way
. "$(dirname "$0")/lib.sh"
ulimit -c 0

D=$WORK/node
mkdir -p "$D/var"
L=$D/var/ledger.jsonl
FEEDER=
trap '[ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null; rm -rf "$WORK"' EXIT
write_node "$D" "[{\"path\": \"$TIMER\", \"config\": {\"mode\":\"quiet\"}}, {\"path\": \"$ECHO\"}]"

# run LINE... — one run fed through a FIFO (so each batch is decoded ahead, on the threadpool);
# its exit status in $STATUS.
run() {
    rm -f "$D/in"
    mkfifo "$D/in"
    printf '%s\n' "$@" > "$D/in" 2> /dev/null &
    FEEDER=$!
    timeout 60 "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err"
    STATUS=$?
    kill $FEEDER 2> /dev/null
    wait $FEEDER 2> /dev/null
    FEEDER=
}
expect_death() {
    if [ "$KIND" = sanitized ]; then
        [ "$STATUS" -ne 0 ] && [ "$STATUS" -ne 124 ] || fail "$1: exit status $STATUS, expected a crash"
    else
        expect_status 139 "$STATUS" "$1"
    fi
}
PING='{"topic":"echo.ping","data":{"n":9}}'

run '{"topic":"timer.decode_crash","data":{"n":1,"m":2}}' "$PING"
expect_death "first crash in decode_event"
expect_contains "$D/err" "crashed in its decode_event of $D/in:1 (topic \"timer.decode_crash\", on the parse-ahead thread): SIGSEGV"

run '{ "data": {"m": 2, "n": 1}, "topic": "timer.decode_crash" }' "$PING"
expect_death "second crash in decode_event"
[ "$(grep -c '"action":"host.crashed"' "$L")" -eq 1 ] || fail "first crash not in the ledger"
[ ! -e "$L.quarantine.jsonl" ] || fail "quarantined after one crash"

# The third time: set aside at the start, refused, and the line after it answered.
run '{"topic":"timer.decode_crash","data":{"n":1,"m":2}}' "$PING"
expect_status 0 "$STATUS" "run with the event quarantined"
expect_contains "$D/err" "quarantined: this event crashed the host 2 times (last in module test-timer)"
expect_contains "$D/out" '{"topic":"echo.pong","data":{"n":9}}'
[ "$(grep -c '"action":"host.crashed"' "$L")" -eq 2 ] || fail "second crash not in the ledger"
grep '"action":"host.crashed"' "$L" | grep -F '"call":"decode_event"' | grep -qF '"line":1' ||
    fail "host.crashed does not name the decode and its line: $(grep host.crashed "$L")"
[ "$(grep -c '"action":"event.quarantined"' "$L")" -eq 1 ] || fail "no event.quarantined record"
grep '"action":"input.rejected"' "$L" | grep -qF 'quarantined' || fail "no input.rejected record"
expect_contains "$D/var/alerts.jsonl" '"alert_type":"event_quarantined"'
expect_contains "$L.quarantine.jsonl" '"topic":"timer.decode_crash","data":{"m":2,"n":1},"crashes":2,"module":"test-timer"'
"$HOST" ledger verify "$L" > /dev/null 2>&1; expect_status 0 $? "verify"

# Still refused at the next start, no crash recorded again.
run '{"topic":"timer.decode_crash","data":{"m":2,"n":1}}'
expect_status 0 "$STATUS" "still quarantined"
[ "$(grep -c '"action":"host.crashed"' "$L")" -eq 2 ] || fail "a crash recorded again"
echo ok

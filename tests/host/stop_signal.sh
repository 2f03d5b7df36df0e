# stop_signal.sh SMART_HOST SPIN_MODULE TIMER_MODULE ECHO_MODULE — SIGTERM and SIGINT end the host
# within a bounded time whatever a module does (issue 11, defect 5): a module call or a module's
# own timer callback that never returns is given 2 s after the signal, then the host ends (exit
# 8) naming the signal and the module; a second signal ends it at once, dead by it; and a host
# held where the loop thread does not see it (a module's decoding ahead, on a worker thread, that
# never returns) ends all the same, once its shutdown deadline and the graces are past. The
# ledger verifies after it and the next start runs.
HOST=$(realpath -- "$1")
SPIN=$(realpath -- "$2")
TIMER=$(realpath -- "$3")
ECHO=$(realpath -- "$4")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"
printf '%s\n' '{"topic":"spin.forever","data":{}}' > "$D/spin.jsonl"

# start MODULES EVENTS [WAIT_FOR] — the host in the background (pid $PID), once the watchdog
# reported a module holding the loop (so the signal comes while it is held), or once stderr
# holds WAIT_FOR.
start() {
    rm -rf "$D/var"
    # Emptied here, not by the redirect below: that happens in the child, after this shell may
    # already have found the last run's warning and signalled a host not yet started (a SIGINT
    # then falls on the background child's inherited SIG_IGN and is lost).
    : > "$D/err"
    write_node "$D" "$1"
    SMART_HOST_WATCHDOG_WARN_MS=100 SMART_HOST_WATCHDOG_LIMIT_MS=60000 SMART_HOST_SHUTDOWN_MS=300 \
        "$HOST" run "$D/node.json" --events "$2" > "$D/out" 2> "$D/err" &
    PID=$!
    for _ in $(seq 200); do
        grep -q "${3:-warning}" "$D/err" && return
        sleep 0.05
    done
    kill -9 $PID
    fail "the module was not reported holding the loop: $(cat "$D/err")"
}
# stop SIGNAL... — send each signal, wait for the host; its status in $STATUS, the time from the
# first signal to its end in $MS.
stop() {
    local t0 t1
    t0=$(date +%s%N)
    for s in "$@"; do kill -s "$s" $PID; sleep 0.2; done
    wait $PID
    STATUS=$?
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 ))
}

# A module's on_event that never returns, and SIGTERM.
start "[{\"path\": \"$SPIN\"}]" "$D/spin.jsonl"
stop TERM
expect_status 8 $STATUS "SIGTERM while on_event spins"
[ $MS -lt 4500 ] || fail "SIGTERM took $MS ms to end the host"
expect_contains "$D/err" "fatal: SIGTERM received, and module test-spin: on_event of spin.forever from $D/spin.jsonl:1 has run for"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo '{"topic":"spin.ping","data":{}}' | "$HOST" run "$D/node.json" > "$D/out" 2> "$D/err"
expect_status 0 $? "the next start"
expect_contains "$D/out" '"topic":"spin.pong"'
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"

# A second SIGTERM while it spins ends it at once, by the signal.
start "[{\"path\": \"$SPIN\"}]" "$D/spin.jsonl"
stop TERM TERM
expect_status 143 $STATUS "a second SIGTERM"
[ $MS -lt 1500 ] || fail "the second SIGTERM took $MS ms"
expect_contains "$D/err" "fatal: SIGTERM received again while module test-spin: on_event of spin.forever"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"

# A module's own timer callback that never returns, and SIGINT; the input still open.
mkfifo "$D/in"
( exec sleep 30 ) > "$D/in" 2> /dev/null &
FEEDER=$!
start "[{\"path\": \"$TIMER\", \"config\": {\"mode\":\"spin\"}}, {\"path\": \"$ECHO\"}]" "$D/in"
stop INT
kill $FEEDER 2> /dev/null
expect_status 8 $STATUS "SIGINT while a timer spins"
[ $MS -lt 4500 ] || fail "SIGINT took $MS ms to end the host"
expect_contains "$D/err" "fatal: SIGINT received, and module test-timer (a timer): a callback on the host's loop, outside any host call has run for"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
# A module's decode_event that never returns, on a worker thread, and SIGTERM: ended once the
# shutdown's 300 ms and the graces (8 s) and 2 s are past.
( printf '%s\n' '{"topic":"timer.decode_spin","data":{}}'; exec sleep 60 ) > "$D/in" 2> /dev/null &
FEEDER=$!
start "[{\"path\": \"$TIMER\"}, {\"path\": \"$ECHO\"}]" "$D/in" "decode_event spinning"
stop TERM
kill $FEEDER 2> /dev/null
expect_status 8 $STATUS "SIGTERM while a decoding spins"
[ $MS -lt 14000 ] || fail "SIGTERM took $MS ms to end the host"
expect_contains "$D/err" "fatal: SIGTERM received"
expect_contains "$D/err" "ms ago and the host has not ended within its 10300 ms (the shutdown's deadline and the graces) (module test-timer: decode_event of timer.decode_spin from $D/in:1 (on the parse-ahead thread) is running); ending it now"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

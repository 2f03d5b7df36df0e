# crash_quarantine.sh SMART_HOST CRASH — a module's fatal signal names its cause, and an event
# that crashed the host twice is set aside (issue 11, defect 6). The host dies of the signal, as
# before, but first writes one line on standard error naming the module, the input line and the
# topic, and notes the crash beside the ledger; the next start records it (host.crashed); after
# a second crash on the same event, resent as producers do (spacing and key order changed), the
# next start quarantines it (event.quarantined, an alert, LEDGER.quarantine.jsonl) and refuses
# it instead of crashing a third time; deleting its line from the quarantine file releases it.
HOST=$(realpath -- "$1")
CRASH=$(realpath -- "$2")
KIND=${3:-plain} # "sanitized": a sanitizer's handler, run after ours, ends the host its own way
. "$(dirname "$0")/lib.sh"
ulimit -c 0

D=$WORK/node
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$CRASH\"}]"
L=$D/var/ledger.jsonl
printf '%s\n' '{"topic":"crash.ok","data":{"n":0}}' '{"topic":"crash.segv","data":{"n":1,"m":2}}' \
    '{"topic":"crash.ok","data":{"n":3}}' > "$D/first.jsonl"
# What a producer resends: the unanswered events, spacing and key order its own.
printf '%s\n' '{ "data": {"m": 2, "n": 1}, "topic": "crash.segv" }' \
    '{"topic":"crash.ok","data":{"n":3}}' > "$D/resend.jsonl"
# expect_death WANTED WHAT — the run died of the signal (exit WANTED), or, under a sanitizer
# that handles the signal after the host's handler, exited non-zero.
expect_death() {
    if [ "$KIND" = sanitized ]; then
        [ "$STATUS" -ne 0 ] || fail "$2: exit status 0, expected a crash"
    else
        expect_status "$1" "$STATUS" "$2"
    fi
}
run() { # run EVENTS — one run; its exit status in $STATUS
    "$HOST" run "$D/node.json" --events "$1" > "$D/out" 2> "$D/err"
    STATUS=$?
}

# --- the first crash: named on stderr, noted beside the ledger -------------------------------
run "$D/first.jsonl"
expect_death 139 "first crash"
expect_contains "$D/err" "smart-host: fatal: module \"test-crash\" crashed handling $D/first.jsonl:2 (line 2, topic \"crash.segv\"): SIGSEGV"
[ "$KIND" = sanitized ] || [ "$(wc -l < "$D/err")" -eq 1 ] ||
    fail "more than one line on stderr: $(cat "$D/err")"
[ -s "$L.crash" ] || fail "no crash note beside the ledger"
"$HOST" ledger verify "$L" > /dev/null || fail "ledger after the first crash"

# --- the resend crashes it again; the start before it recorded the first crash ----------------
run "$D/resend.jsonl"
expect_death 139 "second crash"
expect_contains "$D/err" "warning: the last run died of SIGSEGV in module test-crash handling $D/first.jsonl:2 (topic crash.segv)"
expect_contains "$D/err" "crashed handling $D/resend.jsonl:1 (line 1, topic \"crash.segv\"): SIGSEGV"
[ "$(grep -c '"action":"host.crashed"' "$L")" -eq 1 ] || fail "first crash not in the ledger"
[ ! -e "$D/var/ledger.jsonl.quarantine.jsonl" ] || fail "quarantined after one crash"

# --- the third time: set aside, refused, the rest answered -----------------------------------
run "$D/resend.jsonl"
expect_status 0 "$STATUS" "run with the event quarantined"
expect_contains "$D/err" "quarantined: this event crashed the host 2 times (last in module test-crash)"
expect_contains "$D/out" '{"topic":"crash.ok","data":{"n":3}}'
[ "$(grep -c '"action":"host.crashed"' "$L")" -eq 2 ] || fail "second crash not in the ledger"
[ "$(grep -c '"action":"event.quarantined"' "$L")" -eq 1 ] || fail "no event.quarantined record"
grep '"action":"input.rejected"' "$L" | grep -qF 'quarantined' || fail "no input.rejected record"
expect_contains "$D/var/alerts.jsonl" '"alert_type":"event_quarantined"'
expect_contains "$D/var/alerts.jsonl" "\"node_id\":\"NODE-TEST-001\""
[ "$(wc -l < "$L.quarantine.jsonl")" -eq 1 ] || fail "quarantine file"
expect_contains "$L.quarantine.jsonl" '"topic":"crash.segv","data":{"m":2,"n":1},"crashes":2,"module":"test-crash"'
[ ! -e "$L.crash" ] || fail "a crash note is left after a clean run"
"$HOST" ledger verify "$L" > /dev/null || fail "ledger after the quarantine"

# --- and a fourth time, still quarantined, no new crash recorded ------------------------------
run "$D/resend.jsonl"
expect_status 0 "$STATUS" "still quarantined"
[ "$(grep -c '"action":"host.crashed"' "$L")" -eq 2 ] || fail "a crash recorded again"

# --- released by the operator: delivered again (and it still crashes this build) -------------
rm "$L.quarantine.jsonl"
run "$D/resend.jsonl"
expect_death 139 "released"

# --- another fatal signal is named too -------------------------------------------------------
printf '%s\n' '{"topic":"crash.abort","data":{}}' > "$D/abort.jsonl"
run "$D/abort.jsonl"
expect_death 134 "abort"
expect_contains "$D/err" "crashed handling $D/abort.jsonl:1 (line 1, topic \"crash.abort\"): SIGABRT"
echo ok

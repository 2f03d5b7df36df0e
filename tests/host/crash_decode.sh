# crash_decode.sh SMART_HOST TIMER_MODULE ECHO_MODULE [KIND] — a crash in a module's decode_event
# (ABI 1.1, run on the host's parse-ahead thread) names the module, the input line and the topic
# (issue 11, defect 6), as one in on_event does; the host dies of the signal, and the next start
# records it (host.crashed, call decode_event) and runs, quarantining nothing after one crash
# (two set the event aside: crash_decode_quarantine.sh).
HOST=$(realpath -- "$1")
TIMER=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
KIND=${4:-plain} # "sanitized": a sanitizer's handler, run after ours, ends the host its own way
. "$(dirname "$0")/lib.sh"
ulimit -c 0

D=$WORK/node
mkdir -p "$D"
mkfifo "$D/in"
L=$D/var/ledger.jsonl
FEEDER=
trap '[ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null; rm -rf "$WORK"' EXIT
write_node "$D" "[{\"path\": \"$TIMER\", \"config\": {\"mode\":\"quiet\"}}, {\"path\": \"$ECHO\"}]"

( printf '%s\n' '{"topic":"timer.decode_crash","data":{"n":1}}'; exec sleep 5 ) > "$D/in" 2> /dev/null &
FEEDER=$!
timeout 60 "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err"
STATUS=$?
kill $FEEDER 2> /dev/null
if [ "$KIND" = sanitized ]; then
    [ $STATUS -ne 0 ] && [ $STATUS -ne 124 ] || fail "exit status $STATUS, expected a crash"
else
    expect_status 139 $STATUS "a crash in decode_event"
fi
expect_contains "$D/err" "smart-host: fatal: module \"test-timer\" crashed in its decode_event of $D/in:1 (topic \"timer.decode_crash\", on the parse-ahead thread): SIGSEGV"
"$HOST" ledger verify "$L" > /dev/null 2>&1; expect_status 0 $? "verify"

"$HOST" run "$D/node.json" --events /dev/null > "$D/out" 2> "$D/err"
expect_status 0 $? "the next start"
expect_contains "$D/err" "warning: the last run died of SIGSEGV in module test-timer handling $D/in:1 (topic timer.decode_crash)"
grep '"action":"host.crashed"' "$L" | grep -F '"call":"decode_event"' | grep -qF "\"source\":\"$D/in:1\"" ||
    fail "no host.crashed record naming the decode: $(cat "$L")"
[ ! -e "$L.quarantine.jsonl" ] || fail "something was quarantined"
"$HOST" ledger verify "$L" > /dev/null 2>&1; expect_status 0 $? "verify after"
echo "ok"

# crash_calls.sh SMART_HOST TIMER_MODULE ECHO_MODULE [KIND] — a crash outside on_event names its
# module and what it was doing (issue 11, defect 6): in its init, commit or shutdown, or in a
# callback of a timer it started on the host's loop (found by where it faulted, in its own code
# or in a library it called). The host dies of the signal as for on_event, and the next start
# records the crash (host.crashed, with the call) and runs.
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
node() {
    write_node "$D" "[{\"path\": \"$TIMER\", \"config\": {\"mode\":\"$1\"}}, {\"path\": \"$ECHO\"}]"
}

# crash MODE SAYS RECORDED — a run of the timer module in MODE dies of SIGSEGV saying SAYS; the
# next start says RECORDED and records it.
crash() {
    rm -rf "$D/var"
    node "$1"
    ( printf '%s\n' '{"topic":"echo.ping","data":{"n":1}}'; exec sleep 2 ) > "$D/in" 2> /dev/null &
    FEEDER=$!
    timeout 60 "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err"
    STATUS=$?
    kill $FEEDER 2> /dev/null
    if [ "$KIND" = sanitized ]; then
        [ $STATUS -ne 0 ] && [ $STATUS -ne 124 ] || fail "$1: exit status $STATUS, expected a crash"
    else
        expect_status 139 $STATUS "$1"
    fi
    expect_contains "$D/err" "smart-host: fatal: module \"test-timer\" crashed $2: SIGSEGV"
    "$HOST" ledger verify "$L" > /dev/null 2>&1; expect_status 0 $? "$1: verify"
    node quiet
    "$HOST" run "$D/node.json" --events /dev/null > "$D/out" 2> "$D/err"
    expect_status 0 $? "$1: the next start"
    expect_contains "$D/err" "warning: the last run died of SIGSEGV in module test-timer, in $3"
    grep '"action":"host.crashed"' "$L" | grep -qF "\"call\":\"${4:-$3}\"" ||
        fail "$1: no host.crashed record with the call: $(cat "$L")"
    [ ! -e "$L.quarantine.jsonl" ] || fail "$1: something was quarantined"
    "$HOST" ledger verify "$L" > /dev/null 2>&1; expect_status 0 $? "$1: verify after"
}

crash crash_init "in its init" init
crash crash_commit "in its commit" commit
crash crash_shutdown "in its shutdown" shutdown
OWN="in a callback of its own on the host's loop (a timer or another handle), outside any host call"
crash crash "$OWN" "a callback of its own" callback
crash crash_libc "$OWN" "a callback of its own" callback
echo "ok"

# stdout_stall.sh SMART_HOST ECHO — SIGTERM is obeyed within a bounded time while standard output
# is stalled (issue 11, defect 8). A reader that never reads lets the pipe fill; the output
# thread blocks in write(2) and the loop thread blocks handing the next batch over. SIGTERM must
# still end the host: after OUTPUT_WRITER_STOP_GRACE_MS (2 s) the stalled output is given up, the
# host says so, keeps its ledger intact (every record in it was flushed before its answer) and
# ends well within 10 s: exit 4 (output failed) when the loop took the signal before the
# hand-over blocked, or dead by SIGTERM (143) when it takes it only after the output was given
# up and the host is already shutting down (host.c, on_signal: a signal then is not waited out).
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/node
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$ECHO\"}]"
L=$D/var/ledger.jsonl
mkfifo "$D/in" "$D/out"
exec 4<> "$D/out" # holds the output pipe open and never reads it
"$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err" &
HOST_PID=$!
exec 3> "$D/in"
PAD=$(printf 'x%.0s' $(seq 2000))
# chunk FIRST LAST — pings FIRST..LAST in one write (one batch), 2 kB of output each.
chunk() {
    for n in $(seq "$1" "$2"); do printf '{"topic":"echo.ping","data":{"n":%d,"pad":"%s"}}\n' "$n" "$PAD"; done >&3
}
pongs() { grep -c '"action":"echo.pong"' "$L" 2> /dev/null || echo 0; }
wait_pongs() {
    for _ in $(seq 500); do
        [ "$(pongs)" -ge "$1" ] && return 0
        sleep 0.02
    done
    fail "the ledger never held $1 pongs ($(pongs))"
}
# 200 kB of answers: the pipe (64 kB) fills, the output thread blocks, and the loop thread then
# blocks handing the next batch over. Whether SIGTERM comes before or after that, the host must
# end: before, its own shutdown hands over the batch it ends and waits the same way.
chunk 1 100
wait_pongs 40
T0=$(date +%s%N)
kill -TERM "$HOST_PID"
for _ in $(seq 500); do
    kill -0 "$HOST_PID" 2> /dev/null || break
    sleep 0.02
done
if kill -0 "$HOST_PID" 2> /dev/null; then
    kill -KILL "$HOST_PID"
    fail "SIGTERM ignored for 10 s while standard output was stalled"
fi
wait "$HOST_PID"
STATUS=$?
MS=$((($(date +%s%N) - T0) / 1000000))
echo "exited ${MS} ms after SIGTERM, status $STATUS"
[ "$STATUS" -eq 4 ] || [ "$STATUS" -eq 143 ] || fail "stalled output: exit status $STATUS"
[ "$MS" -lt 8000 ] || fail "SIGTERM took $MS ms"
expect_contains "$D/err" "standard output has not been read for 2000 ms after a stop signal"
"$HOST" ledger verify "$L" > /dev/null || fail "ledger does not verify"
echo ok

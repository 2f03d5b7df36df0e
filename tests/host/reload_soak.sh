# reload_soak.sh SMART_HOST ECHO N — N hot reloads of one module keep the host's resident memory
# and open file descriptors flat and leave no private copy on disk (issue 11, defect 4). The
# figures are taken from /proc after a warm-up of 50 reloads and again after N more, and printed;
# the run fails when the descriptors differ, when RSS grew by more than 2 MiB, when a copy is
# left in the station's directory while running, or when the directory outlives the run.
# tests/host runs it with a short N; tests/bench with 1,000.
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
N=$3
KIND=${4:-plain} # "sanitized": RSS is printed, not bounded (freed memory is held in quarantine)
. "$(dirname "$0")/lib.sh"

export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
D=$WORK/node
mkdir -p "$D/modules" "$D/var"
cp "$ECHO" "$D/modules/echo.so"
write_node "$D" '[{"path": "modules/echo.so"}]'
STATION_TMP=$TMPDIR/smart-host-$(id -u)-$(printf '%s' "$(realpath "$D/var")/ledger.jsonl" |
    sha256sum | cut -c1-16)

mkfifo "$D/in"
"$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err" &
HOST_PID=$!
exec 3> "$D/in"
DONE=0
# reload K — K more reloads, each followed by a ping; returns once all are answered.
reload() {
    for _ in $(seq "$1"); do
        printf '%s\n' '{"topic":"host.reload","data":{"module":"test-echo"}}' \
            '{"topic":"echo.ping","data":{}}'
    done >&3
    DONE=$((DONE + $1))
    for _ in $(seq 3000); do
        [ "$(grep -cF '"topic":"echo.pong"' "$D/out")" -ge "$DONE" ] && return 0
        kill -0 "$HOST_PID" 2> /dev/null || break
        sleep 0.02
    done
    cat "$D/err" >&2
    fail "timed out after $DONE reloads"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$HOST_PID/status"; }
fds() { ls "/proc/$HOST_PID/fd" | wc -l; }

# In steps of 50, as a warm-up: what is measured is the reloads, not the high-water mark of N
# lines read at once (2,000 pings at once and no reload raise RSS more than 1,000 reloads do).
reload 50
RSS0=$(rss_kb)
FD0=$(fds)
for _ in $(seq $((N / 50))); do reload 50; done
[ $((N % 50)) -eq 0 ] || reload $((N % 50))
RSS1=$(rss_kb)
FD1=$(fds)
COPIES=$(ls -A "$STATION_TMP" | wc -l)
exec 3>&-
wait "$HOST_PID"
expect_status 0 $? "exit"
[ "$(grep -cF '"topic":"module.reloaded"' "$D/out")" -eq $((N + 50)) ] || fail "reloads missing"
echo "reloads: $N after 50; RSS ${RSS0} kB -> ${RSS1} kB ($((RSS1 - RSS0)) kB);" \
    "open fds ${FD0} -> ${FD1}; copies on disk while running: ${COPIES}"
[ "$FD1" -eq "$FD0" ] || fail "open file descriptors grew: $FD0 -> $FD1"
[ "$KIND" = sanitized ] || [ $((RSS1 - RSS0)) -le 2048 ] || fail "RSS grew by $((RSS1 - RSS0)) kB"
[ "$COPIES" -eq 0 ] || fail "copies left in $STATION_TMP: $(ls -A "$STATION_TMP")"
[ ! -e "$STATION_TMP" ] || fail "the station's copy directory outlived the run"
[ -z "$(ls -A "$TMPDIR")" ] || fail "left in \$TMPDIR: $(ls -A "$TMPDIR")"
echo ok

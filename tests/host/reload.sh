# reload.sh SMART_HOST ECHO ECHO_V2 ECHO_BROKEN BAD_MAJOR — hot reload of a module on a
# host.reload event and on SIGHUP: a fresh copy of the file is loaded (a newer build renamed over
# the file takes over), events after the request go to the new instance and none is lost or
# handled twice, a build that cannot be loaded or whose init fails leaves the running version
# in place, and every reload is recorded (module.reloaded / module.reload_failed).
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
ECHO_V2=$(realpath -- "$3")
ECHO_BROKEN=$(realpath -- "$4")
BAD_MAJOR=$(realpath -- "$5")
. "$(dirname "$0")/lib.sh"
# A temporary directory of this test's own: private copies go to a directory of the station's in
# it, and none may be left after a run.
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"

D=$WORK/node
mkdir -p "$D/modules" "$WORK/tmp"
# The host's private copies go to $TMPDIR: this test's own, so a copy left behind is this
# host's, not another run's on the same machine.
export TMPDIR=$WORK/tmp
MOD=$D/modules/echo.so
# Replace the module file the way an installer does: a new file renamed over the old one (the
# running image stays mapped from the old file).
install_build() {
    cp "$1" "$D/modules/.new.so" && mv -f "$D/modules/.new.so" "$MOD"
}
install_build "$ECHO"
write_node "$D" "[{\"path\": \"modules/echo.so\"}]"
L=$D/var/ledger.jsonl

# A host reading a FIFO, so the test can act between events.
start_host() {
    rm -rf "$D/var" "$D/in"
    mkfifo "$D/in"
    "$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err" &
    HOST_PID=$!
    exec 3> "$D/in"
}
send() { printf '%s\n' "$@" >&3; }
# wait_for N TEXT — until N output lines contain TEXT.
wait_for() {
    for _ in $(seq 500); do
        [ "$(grep -cF -- "$2" "$D/out")" -ge "$1" ] && return 0
        sleep 0.02
    done
    cat "$D/out" "$D/err" >&2
    fail "timed out waiting for $1 x $2"
}
stop_host() {
    exec 3>&-
    wait "$HOST_PID"
    expect_status 0 $? "$1: exit"
    "$HOST" ledger verify "$L" > /dev/null || fail "$1: ledger does not verify"
}

# --- one batch: the events after host.reload go to the new instance, none is lost ----------
# The lines after the request were decoded ahead by the old image: the new one must get no
# decoding of the old image's making (echo.decoded answers "none", never "foreign").
printf '%s\n' '{"topic":"echo.ping","data":{"n":1}}' '{"topic":"echo.version"}' \
    '{"topic":"host.reload","data":{"module":"test-echo"}}' \
    '{"topic":"echo.ping","data":{"n":2}}' '{"topic":"echo.version"}' \
    '{"topic":"echo.decoded"}' > "$D/batch.jsonl"
"$HOST" run "$D/node.json" --events "$D/batch.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "reload in a batch"
[ "$(wc -l < "$D/out")" -eq 6 ] || fail "reload in a batch: expected 6 outputs"
sed -n 6p "$D/out" | grep -qxF '{"topic":"echo.decoded","data":{"decoded":"none"}}' ||
    fail "a decoding made by the old image reached the new one: $(sed -n 6p "$D/out")"
sed -n 1p "$D/out" | grep -qxF '{"topic":"echo.pong","data":{"n":1}}' || fail "output 1"
sed -n 2p "$D/out" | grep -qxF '{"topic":"echo.version","data":{"version":"1.0.0"}}' || fail "output 2"
sed -n 3p "$D/out" | grep -qF '{"topic":"module.reloaded","data":{"module":"test-echo","path":"'"$MOD"'","old_version":"1.0.0","new_version":"1.0.0","pause_ms":' ||
    fail "output 3 is not module.reloaded"
sed -n 3p "$D/out" | grep -qF "\"trigger\":\"$D/batch.jsonl:3\"}}" || fail "reload trigger"
sed -n 4p "$D/out" | grep -qxF '{"topic":"echo.pong","data":{"n":2}}' || fail "output 4"
sed -n 5p "$D/out" | grep -qxF '{"topic":"echo.version","data":{"version":"1.0.0"}}' || fail "output 5"
"$HOST" ledger verify "$L" > /dev/null || fail "reload in a batch: ledger"
# In the ledger: the old instance's shutdown, then the reload, then the new instance's work.
grep -o '"action":"[a-z._]*"' "$L" | tr '\n' ' ' > "$D/actions"
expect_contains "$D/actions" '"action":"echo.pong" "action":"echo.stopped" "action":"module.reloaded" "action":"echo.pong" "action":"echo.stopped" "action":"host.stopped"'
grep '"action":"module.reloaded"' "$L" | grep -qE '"details":"Reloaded module test-echo \(1\.0\.0 -> 1\.0\.0\); paused [0-9]+\.[0-9]{3} ms\."' ||
    fail "module.reloaded details"

# --- many batches with reloads at their edges (a batch holds 4096 lines): nothing lost, ------
# --- nothing doubled, order kept; the same through a pipe -------------------------------------
python3 - "$D/big.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for n in range(1, 12001):
        f.write('{"topic":"echo.ping","data":{"n":%d}}\n' % n)
        if n in (1, 4094, 4095, 8190, 9000):
            f.write('{"topic":"host.reload"}\n')
PY
for mode in file pipe; do
    rm -rf "$D/var"
    if [ $mode = file ]; then
        "$HOST" run "$D/node.json" --events "$D/big.jsonl" > "$D/out" 2> "$D/err"
    else
        cat "$D/big.jsonl" | "$HOST" run "$D/node.json" > "$D/out" 2> "$D/err"
    fi
    expect_status 0 $? "large input ($mode)"
    grep -o '"n":[0-9]*' "$D/out" | cut -d: -f2 > "$D/order"
    seq 1 12000 | cmp -s - "$D/order" || fail "large input ($mode): pongs lost, doubled or out of order"
    [ "$(grep -c '"topic":"module.reloaded"' "$D/out")" -eq 5 ] || fail "large input ($mode): expected 5 reloads"
    # Each module.reloaded output sits right after the pong of the line before its request.
    grep -B1 '"topic":"module.reloaded"' "$D/out" | grep -o '"n":[0-9]*' | tr '\n' ' ' > "$D/before"
    expect_contains "$D/before" '"n":1 "n":4094 "n":4095 "n":8190 "n":9000 '
    "$HOST" ledger verify "$L" > /dev/null || fail "large input ($mode): ledger"
done

# --- a newer build renamed over the file takes over: it was loaded afresh, not the image ----
# --- already mapped from that path ------------------------------------------------------------
start_host
send '{"topic":"echo.version"}'
wait_for 1 '"version":"1.0.0"'
install_build "$ECHO_V2"
send '{"topic":"host.reload"}' '{"topic":"echo.version"}'
wait_for 1 '"version":"2.0.0"'
stop_host "new build"
grep -qF '"topic":"module.reloaded","data":{"module":"test-echo","path":"'"$MOD"'","old_version":"1.0.0","new_version":"2.0.0"' "$D/out" ||
    fail "new build: no 1.0.0 -> 2.0.0 reload"
[ -z "$(ls -A "$TMPDIR")" ] || fail "a private copy was left behind: $(ls -AR "$TMPDIR")"

# --- a build for another ABI: refused before the running instance is touched ----------------
start_host
send '{"topic":"echo.ping","data":{"n":1}}'
wait_for 1 '"n":1'
install_build "$BAD_MAJOR"
send '{"topic":"host.reload"}' '{"topic":"echo.ping","data":{"n":2}}' '{"topic":"echo.version"}'
wait_for 1 '"topic":"echo.version"'
stop_host "bad build"
expect_contains "$D/err" "smart-host: module $MOD: built for SMART ABI 2.0, but this host speaks 1.2 (a different major version is incompatible); reload refused, the running version 2.0.0 goes on"
grep -qF '{"topic":"module.reload_failed","data":{"module":"test-echo","path":"'"$MOD"'","version":"2.0.0","reason":"module '"$MOD"': built for SMART ABI 2.0' "$D/out" ||
    fail "bad build: no module.reload_failed output"
expect_contains "$D/out" '"running":true'
expect_contains "$D/out" '{"topic":"echo.pong","data":{"n":2}}'
expect_contains "$D/out" '{"topic":"echo.version","data":{"version":"2.0.0"}}'
expect_contains "$L" '"action":"module.reload_failed","target":"test-echo","details":"Reload of module test-echo refused: module '"$MOD"': built for SMART ABI 2.0'
# The running instance was never shut down: one echo.stopped, at the end.
[ "$(grep -c '"action":"echo.stopped"' "$L")" -eq 1 ] || fail "bad build: the running instance was stopped"

# --- a build whose init fails: the old version is restarted and goes on ----------------------
install_build "$ECHO_V2"
start_host
send '{"topic":"echo.ping","data":{"n":1}}'
wait_for 1 '"n":1'
install_build "$ECHO_BROKEN"
send '{"topic":"host.reload","data":{"module":"test-echo"}}' '{"topic":"echo.ping","data":{"n":2}}' \
    '{"topic":"echo.version"}'
wait_for 1 '"topic":"echo.version"'
stop_host "broken init"
expect_contains "$D/err" "smart-host: module $MOD: reload failed: version 3.0.0: init failed: init: this build of test-echo is broken on purpose; version 2.0.0 was restarted and goes on"
grep -qF '{"topic":"module.reload_failed","data":{"module":"test-echo","path":"'"$MOD"'","version":"2.0.0","new_version":"3.0.0","reason":"init: this build of test-echo is broken on purpose","running":true,"pause_ms":' "$D/out" ||
    fail "broken init: no module.reload_failed output"
expect_contains "$D/out" '{"topic":"echo.pong","data":{"n":2}}'
expect_contains "$D/out" '{"topic":"echo.version","data":{"version":"2.0.0"}}'
expect_contains "$L" '"details":"Reload of module test-echo to version 3.0.0 failed: init: this build of test-echo is broken on purpose. The previous version was restarted."'
# The old instance was shut down for the attempt, then its restart ran to the end.
[ "$(grep -c '"action":"echo.stopped"' "$L")" -eq 2 ] || fail "broken init: expected 2 echo.stopped"

# --- SIGHUP reloads every module between batches ---------------------------------------------
install_build "$ECHO"
start_host
send '{"topic":"echo.ping","data":{"n":1}}'
wait_for 1 '"n":1'
install_build "$ECHO_V2"
kill -HUP "$HOST_PID"
wait_for 1 '"topic":"module.reloaded"'
send '{"topic":"echo.ping","data":{"n":2}}' '{"topic":"echo.version"}'
wait_for 1 '"topic":"echo.version"'
stop_host "SIGHUP"
expect_contains "$D/err" "smart-host: SIGHUP received; reloading every module"
expect_contains "$D/out" '"old_version":"1.0.0","new_version":"2.0.0"'
expect_contains "$D/out" '"trigger":"SIGHUP"'
expect_contains "$D/out" '{"topic":"echo.version","data":{"version":"2.0.0"}}'
[ "$(grep -c '"topic":"echo.pong"' "$D/out")" -eq 2 ] || fail "SIGHUP: expected 2 pongs"

# --- bad host.reload requests are rejected like any bad input --------------------------------
rm -rf "$D/var"
printf '%s\n' '{"topic":"host.reload","data":{"module":"nope"}}' \
    '{"topic":"host.reload","data":{"modules":"test-echo"}}' \
    '{"topic":"host.reload","data":{"module":7}}' '{"topic":"host.restart"}' \
    '{"topic":"echo.ping","data":{"n":1}}' > "$D/bad.jsonl"
"$HOST" run "$D/node.json" --events "$D/bad.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "bad requests"
expect_contains "$D/err" "smart-host: $D/bad.jsonl:1: data.module: no running module is named 'nope'"
expect_contains "$D/err" "smart-host: $D/bad.jsonl:2: data.modules: unknown key (host.reload takes module)"
expect_contains "$D/err" "smart-host: $D/bad.jsonl:3: data.module: must be a string"
expect_contains "$D/err" "smart-host: $D/bad.jsonl:4: topic: unknown host topic 'host.restart' (the host knows host.reload)"
[ "$(grep -c '"action":"input.rejected"' "$L")" -eq 4 ] || fail "bad requests: expected 4 input.rejected"
grep -q '"module.reloaded"' "$L" && fail "bad requests: a module was reloaded"
diff <(echo '{"topic":"echo.pong","data":{"n":1}}') "$D/out" || fail "bad requests: outputs"

echo "ok"

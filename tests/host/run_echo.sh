# run_echo.sh CASE SMART_HOST ECHO_MODULE ECHO_ABI10 — end-to-end runs of smart-host with the
# echo module, one case (one meson test) per feature: outputs in order, rejections on stderr,
# the ledger, replay determinism, stdin variants, long lines, fail-stop on a module's I/O error,
# the clock after a rejection, SIGTERM, usage and configuration errors, events decoded ahead
# (ABI 1.1) and a module built for ABI 1.0, a refused host.reload, standard output on a full
# device. `run_echo.sh all ...` runs every case in turn.
CASE=$1
HOST=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
ECHO_ABI10=$(realpath -- "$4")
. "$(dirname "$0")/lib.sh"

# The station every case starts from: NODE.json with the echo module, and the events of the
# main run ($E, its expected outputs in $D/expected).
D=$WORK/run
E=$D/events.jsonl
L=$D/var/ledger.jsonl
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$ECHO\"}]"
cat > "$E" <<'JSON'
{"topic":"echo.ping","time":"2025-02-13T08:00:00Z","data":{"n":1}}
{"topic":"echo.ping","data":{"n":2, "nested": {"list": [1, 2, 3]}}}
this is not json
{"topic":"no.such.topic","data":{}}
{"topic":"echo.ping","time":"2025-02-12T00:00:00Z","data":{"n":99}}
{"topic":"echo.ping","data":{},"extra":true}

{"topic":"echo.ping","time":"2025-02-30T00:00:00Z"}
{"topic":"echo.bad","data":{}}
{"data":{}}
{"topic":"echo.post","data":{"n":"posted"}}
{"topic":"echo.alert"}
{"topic":"echo.ping","time":"2025-02-13T09:00:00+01:00","data":{"n":3}}
JSON
cat > "$D/expected" <<'JSON'
{"topic":"echo.pong","data":{"n":1}}
{"topic":"echo.pong","data":{"n":2, "nested": {"list": [1, 2, 3]}}}
{"topic":"alert","data":{"alert_type":"echo","severity":"low","requires_action":false}}
{"topic":"echo.pong","data":{"n":3}}
{"topic":"echo.pong","data":{"n":"posted"}}
JSON

# main_run — the main run of $E: it must exit 0.
main_run() {
    "$HOST" run "$D/node.json" --events "$E" --clock 2025-02-13T07:00:00Z \
        > "$D/out" 2> "$D/err"
    expect_status 0 $? "run with rejected lines"
}

# Outputs in order; the echo module answers with the data as written in the line: modules get
# it as it is.
case_outputs() {
    main_run
    diff -u "$D/expected" "$D/out" || fail "outputs differ"
}

# Each rejected line named on stderr with its file, line and field, and nothing else there.
case_rejections() {
    main_run
    expect_contains "$D/err" "smart-host: $E:3: json: not valid JSON"
    expect_contains "$D/err" "smart-host: $E:4: topic: unknown topic 'no.such.topic'"
    expect_contains "$D/err" "smart-host: $E:5: time: 2025-02-12T00:00:00Z is before the clock (2025-02-13T08:00:00.000Z); time never runs backwards"
    expect_contains "$D/err" "smart-host: $E:6: extra: unknown key"
    expect_contains "$D/err" "smart-host: $E:8: time: '2025-02-30T00:00:00Z' is not an RFC 3339 timestamp (no such day in that month)"
    expect_contains "$D/err" "smart-host: $E:9: data.value: rejected by the echo module"
    expect_contains "$D/err" "smart-host: $E:10: topic: missing required field"
    [ "$(grep -c 'smart-host: ' "$D/err")" -eq 7 ] || fail "expected exactly 7 messages on stderr"
}

# The ledger: verifies, one input.rejected per rejected line (by the host or the module), the
# start and stop recorded, host.stopped last; the alert in alerts.jsonl.
case_ledger() {
    main_run
    "$HOST" ledger verify "$L" > "$D/verify" || fail "ledger does not verify"
    expect_contains "$D/verify" "ledger ok: 15 records, head "
    [ "$(grep -c '"action":"input.rejected"' "$L")" -eq 7 ] || fail "expected 7 input.rejected"
    expect_contains "$L" "\"module\":\"test-echo\",\"action\":\"input.rejected\",\"target\":\"echo.bad\",\"details\":\"data.value: rejected by the echo module\",\"user_id\":\"system\",\"metadata\":{\"source\":\"$E:9\",\"line\":9,\"topic\":\"echo.bad\"}"
    expect_contains "$L" "\"module\":\"smart-host\",\"action\":\"input.rejected\",\"target\":\"-\""
    expect_contains "$L" "\"metadata\":{\"source\":\"$E:3\",\"line\":3,\"topic\":null}"
    expect_contains "$L" "\"action\":\"host.started\""
    expect_contains "$L" "\"action\":\"echo.stopped\""
    expect_contains "$L" "\"time\":\"2025-02-13T08:00:00.000Z\",\"node_id\":\"NODE-TEST-001\",\"module\":\"smart-host\",\"action\":\"host.stopped\""
    tail -n 1 "$L" | grep -qF '"action":"host.stopped"' || fail "host.stopped is not last"
    head -n 1 "$L" | grep -qF '{"seq":1,"time":"2025-02-13T07:00:00.000Z"' || fail "first record"
    expect_contains "$D/var/alerts.jsonl" '{"alert_type":"echo","severity":"low","requires_action":false}'
}

# Replay: the same events into a fresh ledger give byte-identical outputs and ledger.
case_replay() {
    main_run
    mv "$D/var" "$D/var.first"
    "$HOST" run "$D/node.json" --events "$E" --clock 2025-02-13T07:00:00Z > "$D/out2" 2> /dev/null
    expect_status 0 $? "replay"
    cmp -s "$D/out" "$D/out2" || fail "replay outputs differ"
    cmp -s "$D/var.first/ledger.jsonl" "$L" || fail "replay ledger differs"
}

# Standard input: a pipe, '-' and a redirected regular file give the same outputs.
case_stdin() {
    for mode in pipe dash redirect; do
        S=$WORK/stdin-$mode
        mkdir -p "$S"
        cp "$D/node.json" "$S/"
        case $mode in
            pipe) cat "$E" | "$HOST" run "$S/node.json" --clock 2025-02-13T07:00:00Z > "$S/out" 2> "$S/err" ;;
            dash) cat "$E" | "$HOST" run "$S/node.json" --events - --clock 2025-02-13T07:00:00Z > "$S/out" 2> "$S/err" ;;
            redirect) "$HOST" run "$S/node.json" --clock 2025-02-13T07:00:00Z < "$E" > "$S/out" 2> "$S/err" ;;
        esac
        expect_status 0 $? "stdin $mode"
        diff -u "$D/expected" "$S/out" || fail "stdin $mode outputs differ"
        expect_contains "$S/err" "smart-host: stdin:4: topic: unknown topic 'no.such.topic'"
    done
}

# A line longer than 1 MiB is rejected and skipped; a long line under the cap that spans
# several reads is processed; a last line without a newline is processed.
case_long_lines() {
    B=$WORK/big
    mkdir -p "$B"
    cp "$D/node.json" "$B/"
    {
        printf '{"topic":"echo.ping","data":{"s":"%s"}}\n' "$(head -c 2000000 /dev/zero | tr '\0' x)"
        printf '{"topic":"echo.ping","data":{"s":"%s"}}\n' "$(head -c 700000 /dev/zero | tr '\0' y)"
        printf '{"topic":"echo.ping","data":{"n":"last"}}'
    } > "$B/events.jsonl"
    "$HOST" run "$B/node.json" --events "$B/events.jsonl" > "$B/out" 2> "$B/err"
    expect_status 0 $? "long lines"
    expect_contains "$B/err" "smart-host: $B/events.jsonl:1: line: longer than 1048576 bytes; skipped"
    [ "$(wc -l < "$B/out")" -eq 2 ] || fail "long lines: expected 2 outputs"
    [ "$(head -n 1 "$B/out" | wc -c)" -gt 700000 ] || fail "long line under the cap was not echoed"
    tail -n 1 "$B/out" | grep -qF '{"topic":"echo.pong","data":{"n":"last"}}' || fail "last line"
    "$HOST" ledger verify "$B/var/ledger.jsonl" > /dev/null || fail "long lines: ledger"
}

# A module reporting a failed store: fail-stop, exit 4, nothing of that batch acknowledged.
case_fail_stop() {
    F=$WORK/failstop
    mkdir -p "$F"
    cp "$D/node.json" "$F/"
    printf '%s\n' '{"topic":"echo.ping","data":{"n":1}}' '{"topic":"echo.fail"}' \
        '{"topic":"echo.ping","data":{"n":2}}' > "$F/events.jsonl"
    "$HOST" run "$F/node.json" --events "$F/events.jsonl" > "$F/out" 2> "$F/err"
    expect_status 4 $? "fail-stop"
    [ ! -s "$F/out" ] || fail "fail-stop printed outputs"
    expect_contains "$F/err" "smart-host: fatal: module test-echo: $F/events.jsonl:2: echo store failed"
    "$HOST" ledger verify "$F/var/ledger.jsonl" > /dev/null || fail "fail-stop: ledger"
}

# A rejected event does not move the clock: a later event may still carry an earlier time.
case_clock_after_rejection() {
    K=$WORK/clock-rejected
    mkdir -p "$K"
    cp "$D/node.json" "$K/"
    printf '%s\n' '{"topic":"echo.ping","time":"2025-02-13T08:00:00Z","data":{"n":1}}' \
        '{"topic":"no.such.topic","time":"2025-02-13T12:00:00Z"}' \
        '{"topic":"echo.ping","time":"2025-02-13T09:00:00Z","data":{"n":2}}' > "$K/events.jsonl"
    "$HOST" run "$K/node.json" --events "$K/events.jsonl" --clock 2025-02-13T07:00:00Z \
        > "$K/out" 2> "$K/err"
    expect_status 0 $? "clock after a rejection"
    [ "$(wc -l < "$K/out")" -eq 2 ] || fail "clock after a rejection: expected 2 outputs"
    expect_contains "$K/var/ledger.jsonl" '"time":"2025-02-13T08:00:00.000Z","node_id":"NODE-TEST-001","module":"smart-host","action":"input.rejected"'
    grep -o '"time":"[^"]*"' "$K/var/ledger.jsonl" | sort -c || fail "ledger times run backwards"
}

# SIGTERM while waiting for input: the batch already read is acknowledged, modules are shut
# down, host.stopped is recorded, exit 0.
case_sigterm() {
    T=$WORK/signal
    mkdir -p "$T"
    cp "$D/node.json" "$T/"
    mkfifo "$T/events" "$T/answers"
    "$HOST" run "$T/node.json" --events "$T/events" > "$T/answers" 2> "$T/err" &
    pid=$!
    # The answer is read from a pipe, so the signal comes once the batch is acknowledged (the
    # read's timeout only guards against a host that never answers).
    exec 4< "$T/answers" 3> "$T/events"
    echo '{"topic":"echo.ping","data":{"n":"before the signal"}}' >&3
    IFS= read -r -t 30 answer <&4 || { kill -KILL "$pid"; fail "SIGTERM: no answer within 30 s"; }
    printf '%s\n' "$answer" > "$T/out"
    kill -TERM "$pid"
    wait "$pid"
    expect_status 0 $? "SIGTERM"
    cat <&4 >> "$T/out"
    exec 3>&- 4<&-
    expect_contains "$T/out" '{"topic":"echo.pong","data":{"n":"before the signal"}}'
    expect_contains "$T/err" "smart-host: Terminated received; finishing and shutting down"
    tail -n 1 "$T/var/ledger.jsonl" | grep -qF '"action":"host.stopped"' || fail "SIGTERM: host.stopped"
}

# Usage and configuration errors: exit 2 naming the problem.
case_usage() {
    "$HOST" > /dev/null 2> "$WORK/usage"; expect_status 2 $? "no arguments"
    expect_contains "$WORK/usage" "usage: smart-host run NODE.json"
    "$HOST" --help > "$WORK/help"; expect_status 0 $? "--help"
    expect_contains "$WORK/help" "smart-host ledger verify LEDGER"
    "$HOST" run "$D/node.json" --clock 2025-02-30T00:00:00Z < /dev/null 2> "$WORK/clock"
    expect_status 2 $? "bad --clock"
    expect_contains "$WORK/clock" "smart-host: --clock: '2025-02-30T00:00:00Z' is not an RFC 3339 timestamp"
    C=$WORK/config
    mkdir -p "$C"
    echo '{"node_id":"N","station_type":"LP","ledger":"l","alerts":"a","modules":[{}]}' > "$C/node.json"
    "$HOST" run "$C/node.json" < /dev/null 2> "$C/err"; expect_status 2 $? "bad config"
    expect_contains "$C/err" "smart-host: $C/node.json: modules[0].path: missing"
    "$HOST" run "$D/node.json" --events "$WORK/none.jsonl" 2> "$C/err2"
    expect_status 2 $? "missing events file"
    expect_contains "$C/err2" "$WORK/none.jsonl: cannot open"
}

# Events decoded ahead: input lines reach on_event with the module's own decoding, from a file
# and from a pipe; a module built for ABI 1.0 is loaded and decodes for itself.
case_decoded_ahead() {
    printf '%s\n' '{"topic":"echo.decoded"}' '{"topic":"echo.decoded"}' > "$D/decoded.jsonl"
    "$HOST" run "$D/node.json" --events "$D/decoded.jsonl" > "$D/dec_out" 2> "$D/dec_err"
    expect_status 0 $? "decoded ahead"
    [ "$(grep -cxF '{"topic":"echo.decoded","data":{"decoded":"own"}}' "$D/dec_out")" -eq 2 ] ||
        fail "file input: not decoded ahead by the module itself: $(cat "$D/dec_out")"
    cat "$D/decoded.jsonl" | "$HOST" run "$D/node.json" > "$D/dec_out" 2> "$D/dec_err"
    expect_status 0 $? "decoded ahead, from a pipe"
    [ "$(grep -cxF '{"topic":"echo.decoded","data":{"decoded":"own"}}' "$D/dec_out")" -eq 2 ] ||
        fail "pipe input: not decoded ahead by the module itself: $(cat "$D/dec_out")"
    O=$WORK/abi10
    mkdir -p "$O"
    write_node "$O" "[{\"path\": \"$ECHO_ABI10\"}]"
    "$HOST" run "$O/node.json" --events "$D/decoded.jsonl" > "$O/out" 2> "$O/err"
    expect_status 0 $? "ABI 1.0 module"
    [ "$(grep -cxF '{"topic":"echo.decoded","data":{"decoded":"none"}}' "$O/out")" -eq 2 ] ||
        fail "ABI 1.0 module: $(cat "$O/out" "$O/err")"
}

# A host.reload whose data is not what JSON allows (a key twice) is refused, not acted on.
case_reload_refused() {
    printf '%s\n' '{"topic":"host.reload","data":{"module":"test-echo","module":"x"}}' \
        '{"topic":"echo.ping","data":{"n":1}}' > "$D/reload-dup.jsonl"
    "$HOST" run "$D/node.json" --events "$D/reload-dup.jsonl" > "$D/rd_out" 2> "$D/rd_err"
    expect_status 0 $? "host.reload with a duplicate key"
    expect_contains "$D/rd_err" "reload-dup.jsonl:1: data: not valid JSON: duplicate object key"
    # not acted on: no reload tried (done or failed), in the outputs or the ledger; the next
    # line is answered
    if grep -q '"module\.reload' "$D/rd_out" "$L"; then
        fail "a refused host.reload was acted on: $(grep '"module\.reload' "$D/rd_out" "$L")"
    fi
    expect_contains "$D/rd_out" '{"topic":"echo.pong","data":{"n":1}}'
}

# Standard output that cannot be written: a fail-stop (exit 4) naming it, the ledger intact.
case_stdout_full() {
    F=$WORK/full
    mkdir -p "$F"
    write_node "$F" "[{\"path\": \"$ECHO\"}]"
    printf '{"topic":"echo.ping","data":{"n":%d}}\n' 1 2 3 |
        "$HOST" run "$F/node.json" > /dev/full 2> "$F/err"
    expect_status 4 $? "stdout on a full device"
    expect_contains "$F/err" "smart-host: fatal: cannot write to standard output: No space left on device"
    "$HOST" ledger verify "$F/var/ledger.jsonl" > /dev/null; expect_status 0 $? "verify after /dev/full"
}

CASES="outputs rejections ledger replay stdin long_lines fail_stop clock_after_rejection sigterm usage decoded_ahead reload_refused stdout_full"
if [ "$CASE" = all ]; then
    for c in $CASES; do bash "$0" "$c" "$HOST" "$ECHO" "$ECHO_ABI10" || exit 1; done
else
    case " $CASES " in *" $CASE "*) ;; *) fail "no such case: $CASE (cases: $CASES)" ;; esac
    case_$CASE
fi
echo "ok $CASE"

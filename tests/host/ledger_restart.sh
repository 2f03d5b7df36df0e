# ledger_restart.sh SMART_HOST ECHO — the ledger across restarts: seq and prev_hash continue,
# a torn last line is moved aside and reported, a record broken in the middle stops start-up
# (exit 3), and `ledger verify` names the first bad record (exit 1).
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/node
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$ECHO\"}]"
L=$D/var/ledger.jsonl
run() {
    echo '{"topic":"echo.ping","data":{"n":1}}' | "$HOST" run "$D/node.json" > "$D/out" 2> "$D/err"
}

run; expect_status 0 $? "first run"
[ "$(wc -l < "$L")" -eq 5 ] || fail "first run: expected 5 records"
run; expect_status 0 $? "second run"
"$HOST" ledger verify "$L" > "$D/verify"; expect_status 0 $? "verify after restart"
expect_contains "$D/verify" "ledger ok: 10 records, head "
sed -n 6p "$L" | grep -qF '{"seq":6,' || fail "seq did not continue"
prev=$(sed -n 5p "$L" | sed 's/.*"hash":"\([0-9a-f]*\)"}$/\1/')
sed -n 6p "$L" | grep -qF "\"prev_hash\":\"$prev\"" || fail "prev_hash did not continue"

# A torn last line (a crash mid-write) is moved aside, reported, and the chain continues.
printf '{"seq":11,"time":"2025-02-13T08:0' >> "$L"
"$HOST" ledger verify "$L" 2> "$D/verr"; expect_status 1 $? "verify torn"
expect_contains "$D/verr" "smart-host: ledger $L: record seq 11 (line 11): truncated line (no newline)"
run; expect_status 0 $? "run after torn tail"
expect_contains "$D/err" "smart-host: warning: ledger $L: torn last record (seq 11, line 11"
expect_contains "$D/err" "moved aside to $L.torn-11"
[ -f "$L.torn-11" ] || fail "torn bytes not kept"
expect_contains "$L.torn-11" '{"seq":11,"time":"2025-02-13T08:0'
sed -n 11p "$L" | grep -qF '"seq":11,' || fail "torn_tail record seq"
sed -n 11p "$L" | grep -qF '"action":"ledger.torn_tail"' || fail "ledger.torn_tail not recorded"
"$HOST" ledger verify "$L" > /dev/null; expect_status 0 $? "verify after recovery"

# A record changed in the middle: verify names it, start-up refuses (exit 3), nothing changes.
sed -i '3s/"details":"/"details":"X/' "$L"
cp "$L" "$D/before"
"$HOST" ledger verify "$L" 2> "$D/verr"; expect_status 1 $? "verify tampered"
expect_contains "$D/verr" "smart-host: ledger $L: record seq 3 (line 3): hash mismatch"
run; expect_status 3 $? "start with a broken ledger"
expect_contains "$D/err" "record seq 3 (line 3): hash mismatch"
cmp -s "$L" "$D/before" || fail "a broken ledger was modified"

"$HOST" ledger verify "$WORK/absent.jsonl" 2> /dev/null; expect_status 2 $? "verify missing file"
"$HOST" ledger check "$L" 2> /dev/null; expect_status 2 $? "ledger usage"

echo "ok"

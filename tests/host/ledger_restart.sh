# ledger_restart.sh SMART_HOST ECHO — the ledger across restarts: seq and prev_hash continue,
# a torn last line is moved aside and reported, a record changed or missing in the middle or a
# broken genesis stops start-up (exit 3) naming the first bad record and leaves the file as it
# was (never a new genesis over it), and `ledger verify` names the first bad record (exit 1).
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

# A record deleted from the middle: the chain names the first record after the gap.
sed -i '3s/"details":"X/"details":"/' "$L" # undo the change above
"$HOST" ledger verify "$L" > /dev/null; expect_status 0 $? "verify after undoing the change"
sed -i '5d' "$L"
cp "$L" "$D/before"
run; expect_status 3 $? "start with a record missing"
expect_contains "$D/err" "record seq 6 (line 5): seq is 6, expected 5"
cmp -s "$L" "$D/before" || fail "a ledger with a gap was modified"

# A broken first record (the genesis) that is not the last line is never replaced.
G=$WORK/genesis
mkdir -p "$G"
write_node "$G" "[{\"path\": \"$ECHO\"}]"
echo '{"topic":"echo.ping","data":{}}' | "$HOST" run "$G/node.json" > /dev/null 2>&1
sed -i '1s/"seq":1,/"seq":0,/' "$G/var/ledger.jsonl"
cp "$G/var/ledger.jsonl" "$G/before"
echo '{"topic":"echo.ping","data":{}}' | "$HOST" run "$G/node.json" > /dev/null 2> "$G/err"
expect_status 3 $? "start with a broken genesis"
expect_contains "$G/err" "record seq 1 (line 1): hash mismatch"
expect_contains "$G/err" "refusing to start (the ledger is never repaired silently)"
cmp -s "$G/var/ledger.jsonl" "$G/before" || fail "a broken genesis was overwritten"

"$HOST" ledger verify "$WORK/absent.jsonl" 2> /dev/null; expect_status 2 $? "verify missing file"
"$HOST" ledger check "$L" 2> /dev/null; expect_status 2 $? "ledger usage"

echo "ok"

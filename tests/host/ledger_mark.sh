# ledger_mark.sh SMART_HOST ECHO — a restart verifies only what follows the position its last
# start verified ("<ledger>.verified", host-stub/ledger/ledger_mark.h): a record changed in
# place before that position does not stop the start, but `ledger verify` (which checks
# everything) finds it; a side file that lies (another hash, a position beyond the end) is not
# used, so the same change stops the start (exit 3) as a verification from the start does.
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/node
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$ECHO\"}]"
L=$D/var/ledger.jsonl
M=$L.verified
run() {
    echo '{"topic":"echo.ping","data":{"n":1}}' | "$HOST" run "$D/node.json" > "$D/out" 2> "$D/err"
}

run; expect_status 0 $? "first run"
run; expect_status 0 $? "second run"
[ -f "$M" ] || fail "no side file after a start that verified records"
expect_contains "$M" '"seq":5,'
run; expect_status 0 $? "third run"
expect_contains "$M" '"seq":10,'
good=$(cat "$M")

# Record 3 changed in place (same file, same length): the chain is broken before the mark.
change() { # change LINE FROM TO — one character of line LINE, in place
    python3 - "$L" "$1" "$2" "$3" <<'PY'
import sys
path, line, old, new = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, 'r+b') as f:
    data = f.read()
    start = 0
    for _ in range(line - 1):
        start = data.index(b'\n', start) + 1
    at = data.index(old.encode(), start)
    f.seek(at)
    f.write(new.encode())
PY
}
change 3 '"action":"' '"actioX":"'
"$HOST" ledger verify "$L" 2> "$D/verr"; expect_status 1 $? "verify a record changed before the mark"
expect_contains "$D/verr" "record seq 3 (line 3): hash mismatch"
run; expect_status 0 $? "start from a true mark (stderr: $(cat "$D/err"))"
"$HOST" ledger verify "$L" 2> "$D/verr"; expect_status 1 $? "verify after that start"
expect_contains "$D/verr" "record seq 3 (line 3): hash mismatch"

# A side file that lies is not used: the start verifies from the first record and refuses.
printf '%s\n' "$good" | sed 's/"hash":"\(.\)/"hash":"X/' > "$M"
run; expect_status 3 $? "start with a side file naming another hash"
expect_contains "$D/err" "record seq 3 (line 3): hash mismatch"
printf '%s\n' "$good" | sed 's/"end":[0-9]*/"end":99999999/' > "$M"
run; expect_status 3 $? "start with a side file beyond the end"
expect_contains "$D/err" "record seq 3 (line 3): hash mismatch"
rm -f "$M"
run; expect_status 3 $? "start with no side file"
expect_contains "$D/err" "record seq 3 (line 3): hash mismatch"

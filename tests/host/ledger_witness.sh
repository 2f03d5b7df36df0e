# ledger_witness.sh SMART_HOST MAINTENANCE EXAMPLE_DIR — the ledger's end is witnessed by the
# module's store (the ledger record it committed through, and that record's hash). Between two
# runs: the last records removed, the whole ledger deleted, a witnessed record edited (its chain
# re-hashed after it, so the chain alone verifies) — each refused at the restart (exit 3)
# naming the ledger and the store's data_dir, the files left as they were. A complete last line
# that fails verification is a changed record, refused likewise; only a last line without its
# newline is a torn write, recovered as before.
HOST=$(realpath -- "$1")
MAINT=$(realpath -- "$2")
EXAMPLE=$(realpath -- "$3")
. "$(dirname "$0")/lib.sh"
PYTHON=${PYTHON:-python3}

D=$WORK/node
mkdir -p "$D"
cp -r "$EXAMPLE/contracts" "$D/contracts"
write_node "$D" "[{\"path\": \"$MAINT\", \"config\": {\"contracts_dir\": \"contracts\", \"data_dir\": \"var/maintenance\"}}]"
L=$D/var/ledger.jsonl
S=$D/var/maintenance/store.sqlite

run() {
    "$HOST" run "$D/node.json" --events "$EXAMPLE/scenario.jsonl" --clock 2025-02-13T07:00:00Z \
        > "$D/out" 2> "$D/err"
}
run; expect_status 0 $? "first run (stderr: $(cat "$D/err"))"
# The record the store says it is committed through.
W=$("$PYTHON" -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT value FROM store_meta WHERE key = ?", ("ledger_seq",)).fetchone()[0])' "$S")
N=$(wc -l < "$L")
[ "$W" -ge 2 ] && [ "$W" -le "$N" ] || fail "store witnesses record $W of $N"
sed -n "${W}p" "$L" | grep -qF "\"hash\":\"$("$PYTHON" -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT value FROM store_text_meta WHERE key = ?", ("ledger_hash",)).fetchone()[0])' "$S")\"}" ||
    fail "the store's hash is not that of record $W"
rm -rf "$WORK/good"
cp -a "$D/var" "$WORK/good"

restore() {
    rm -rf "$D/var"
    cp -a "$WORK/good" "$D/var"
}

# refused WHAT TEXT — the restart exits 3 naming the ledger and the data_dir and TEXT, and
# neither the ledger nor the store changes.
refused() {
    [ -f "$L" ] && cp "$L" "$WORK/ledger-before" || rm -f "$WORK/ledger-before"
    cp "$S" "$WORK/store-before"
    run; expect_status 3 $? "$1"
    expect_contains "$D/err" "smart-host: fatal: ledger $L does not hold what module $MAINT's store committed through: the store in $D/var/maintenance is committed through ledger record $W"
    expect_contains "$D/err" "$2"
    [ ! -s "$D/out" ] || fail "$1: output printed"
    if [ -f "$WORK/ledger-before" ]; then
        cmp -s "$L" "$WORK/ledger-before" || fail "$1: the ledger was changed"
    else
        [ ! -e "$L" ] || fail "$1: the missing ledger was created"
    fi
    cmp -s "$S" "$WORK/store-before" || fail "$1: the store was changed"
}

# The last records removed, down to before the witnessed one: the chain alone verifies.
head -n $((W - 1)) "$WORK/good/ledger.jsonl" > "$L"
"$HOST" ledger verify "$L" > /dev/null || fail "a cut ledger should verify as a chain"
refused "records removed" "but ledger $L ends at record seq $((W - 1)), before seq $W: records were removed or the ledger replaced"
refused "records removed, second restart" "ends at record seq $((W - 1)), before seq $W"

# The whole ledger deleted.
restore
rm "$L"
refused "ledger deleted" "but ledger $L ends at record seq 0, before seq $W"
refused "ledger deleted, second restart" "but ledger $L ends at record seq 0, before seq $W"

# The witnessed record edited, and every record after it re-hashed: the chain verifies.
restore
"$PYTHON" - "$L" "$W" <<'PY'
import hashlib, sys
path, w = sys.argv[1], int(sys.argv[2])
lines = open(path, encoding="utf-8").read().split("\n")[:-1]
prev = None
for i in range(w - 1, len(lines)):
    line = lines[i]
    if i == w - 1:
        line = line.replace('"details":"', '"details":"(edited) ', 1)
    prefix = line[:-75]
    if prev is not None:
        prefix = prefix[:-65] + prev + '"'
    prev = hashlib.sha256(prefix.encode("utf-8")).hexdigest()
    lines[i] = prefix + ',"hash":"' + prev + '"}'
open(path, "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
"$HOST" ledger verify "$L" > /dev/null || fail "the re-hashed ledger should verify as a chain"
refused "witnessed record edited" "but that record's hash is "

# The last complete line changed (not re-hashed): a changed record, not a torn write.
restore
sed -i '$s/"details":"/"details":"X/' "$L"
cp "$L" "$WORK/ledger-before"
run; expect_status 3 $? "last complete line changed"
expect_contains "$D/err" "smart-host: ledger $L: record seq $N (line $N): hash mismatch; the line is complete, so this is not a torn write but a changed record; refusing to start"
cmp -s "$L" "$WORK/ledger-before" || fail "a changed last line was modified"
[ ! -e "$L.torn-$N" ] || fail "a changed last line was moved aside"

# A real torn tail (the last line cut short, no newline) is still recovered.
restore
head -c -20 "$WORK/good/ledger.jsonl" > "$L"
run; expect_status 0 $? "torn tail (stderr: $(cat "$D/err"))"
expect_contains "$D/err" "smart-host: warning: ledger $L: torn last record (seq $N, line $N"
"$HOST" ledger verify "$L" > /dev/null || fail "the ledger after torn-tail recovery"

# And an intact station restarts.
restore
run; expect_status 0 $? "intact restart (stderr: $(cat "$D/err"))"
echo "ledger_witness: ok"

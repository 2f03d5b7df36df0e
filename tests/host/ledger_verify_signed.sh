# ledger_verify_signed.sh SMART_HOST ECHO_MODULE — `ledger verify --key [--checkpoints]`: a
# signed ledger passes and says how much is signed; without --key the chain is called
# unanchored; another key, or no checkpoint at all, fails naming the seq; --checkpoints needs
# --key. (tamper_matrix.py runs every way of altering the ledger.)
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

"$HOST" keygen "$WORK/keys" > /dev/null || fail "keygen"
"$HOST" keygen "$WORK/other" > /dev/null || fail "keygen (other)"
D=$WORK/node
mkdir -p "$D"
cat > "$D/node.json" <<JSON
{"node_id": "NODE-TEST-001", "station_type": "LP",
 "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl", "signing_key": "$WORK/keys/node.key",
 "modules": [{"path": "$ECHO"}]}
JSON
printf '%s\n' '{"topic":"echo.ping","data":{"n":1}}' '{"topic":"ledger.checkpoint"}' > "$D/events"
"$HOST" run "$D/node.json" --events "$D/events" > /dev/null 2> "$D/err" || fail "run: $(cat "$D/err")"
L=$D/var/ledger.jsonl
N=$(wc -l < "$L")
# The run's checkpoints: at the end of its one batch (seq 3) and at shutdown (the seq before the
# last record).
"$HOST" ledger verify "$L" --key "$WORK/keys/node.pub" --checkpoints "$L.checkpoints" > "$D/out" 2>&1
expect_status 0 $? "signed ledger (output: $(cat "$D/out"))"
expect_contains "$D/out" "ok: $N records; last signed checkpoint at seq $((N - 1)); 0 records after it not yet signed (2 checkpoints in the ledger, 2 in $L.checkpoints)"
"$HOST" ledger verify "$L" --key "$WORK/keys/node.pub" > "$D/out" 2>&1
expect_status 0 $? "signed ledger, no checkpoints file"
expect_contains "$D/out" "no checkpoints file checked"
"$HOST" ledger verify "$L" > "$D/out" 2>&1
expect_status 0 $? "no --key"
expect_contains "$D/out" "unanchored: no --key, so only the chain was checked"

# Records after the last checkpoint: a run of a node without the key on the same ledger.
cat > "$D/unsigned.json" <<JSON
{"node_id": "NODE-TEST-001", "station_type": "LP",
 "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl", "modules": [{"path": "$ECHO"}]}
JSON
"$HOST" run "$D/unsigned.json" --events /dev/null > /dev/null 2>&1 || fail "unsigned run"
M=$(wc -l < "$L")
"$HOST" ledger verify "$L" --key "$WORK/keys/node.pub" > "$D/out" 2>&1
expect_status 0 $? "records after the last checkpoint"
expect_contains "$D/out" "ok: $M records; last signed checkpoint at seq $((N - 1)); $((M - N)) records after it not yet signed"

"$HOST" ledger verify "$L" --key "$WORK/other/node.pub" > "$D/out" 2>&1
expect_status 1 $? "another key"
expect_contains "$D/out" "FAILED at seq 3: checkpoint of seq 3 (record 4): signed with key"

U=$WORK/plain
mkdir -p "$U"
write_node "$U" "[{\"path\": \"$ECHO\"}]"
"$HOST" run "$U/node.json" --events /dev/null > /dev/null 2>&1 || fail "plain run"
"$HOST" ledger verify "$U/var/ledger.jsonl" --key "$WORK/keys/node.pub" > "$D/out" 2>&1
expect_status 1 $? "no checkpoint at all"
expect_contains "$D/out" "FAILED at seq 0: no checkpoint signed with key"

"$HOST" ledger verify "$L" --checkpoints "$L.checkpoints" > "$D/out" 2>&1
expect_status 2 $? "--checkpoints without --key"
expect_contains "$D/out" "--checkpoints needs --key"
echo ok

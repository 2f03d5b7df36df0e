# checkpoints.sh SMART_HOST ECHO_MODULE — the node signs its ledger (signing_key): keygen's
# files, a checkpoint on a ledger.checkpoint event and at shutdown, each one a ledger record,
# an output event and a line of the checkpoints file, and each verified by the stock minisign
# with the node's public key (no code of ours). A node without a key refuses the event; an
# exposed secret key is refused at start.
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"
PYTHON=${PYTHON:-python3}
command -v minisign > /dev/null || fail "minisign is not installed (a CI package)"

K=$WORK/keys
"$HOST" keygen "$K" > "$WORK/keygen.out" 2> "$WORK/keygen.err"
expect_status 0 $? "keygen (stderr: $(cat "$WORK/keygen.err"))"
expect_contains "$WORK/keygen.out" "secret key $K/node.key (for signing_key), public key $K/node.pub"
[ "$(stat -c %a "$K/node.key")" = 600 ] || fail "node.key mode is $(stat -c %a "$K/node.key")"
head -n 1 "$K/node.pub" | grep -q '^untrusted comment: minisign public key [0-9A-F]\{16\}$' ||
    fail "node.pub's first line: $(head -n 1 "$K/node.pub")"
"$HOST" keygen "$K" > /dev/null 2> "$WORK/keygen2.err"
expect_status 4 $? "a second keygen into the same directory"
expect_contains "$WORK/keygen2.err" "already exists; keygen never replaces a key"

D=$WORK/node
mkdir -p "$D"
cat > "$D/node.json" <<JSON
{"node_id": "NODE-TEST-001", "station_type": "LP",
 "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl", "signing_key": "$K/node.key",
 "modules": [{"path": "$ECHO"}]}
JSON
cat > "$D/events.jsonl" <<'JSON'
{"topic":"echo.ping","time":"2025-02-13T08:00:00Z","data":{"n":1}}
{"topic":"ledger.checkpoint","data":{}}
{"topic":"ledger.checkpoint","data":{"seq":1}}
{"topic":"echo.ping","data":{"n":2}}
JSON
"$HOST" run "$D/node.json" --events "$D/events.jsonl" --clock 2025-02-13T07:00:00Z \
    > "$D/out" 2> "$D/err"
expect_status 0 $? "signed run (stderr: $(cat "$D/err"))"
expect_contains "$D/err" "smart-host: $D/events.jsonl:3: data: ledger.checkpoint takes no data ({})"
L=$D/var/ledger.jsonl
C=$L.checkpoints
[ "$(grep -c '"topic":"ledger.checkpoint"' "$D/out")" -eq 2 ] || fail "expected 2 ledger.checkpoint outputs: $(cat "$D/out")"
[ "$(wc -l < "$C")" -eq 2 ] || fail "expected 2 lines in $C"
[ "$(grep -c '"action":"ledger.checkpoint"' "$L")" -eq 2 ] || fail "expected 2 ledger.checkpoint records"

# Each checkpoint: the stock minisign verifies it, it names the seq right before its own
# record, whose hash it carries, and it is the same text in the file, the ledger and the output.
"$PYTHON" - "$C" "$L" "$D/out" "$WORK/cp" <<'PY' || fail "checkpoints do not match the ledger"
import json, sys
cps = [json.loads(l) for l in open(sys.argv[1])]
recs = [json.loads(l) for l in open(sys.argv[2])]
outs = [json.loads(l)["data"] for l in open(sys.argv[3]) if '"ledger.checkpoint"' in l]
assert outs == cps, "outputs differ from the checkpoints file"
for i, cp in enumerate(cps):
    rec = recs[cp["seq"]]  # the record after seq (0-based index seq is seq + 1)
    assert rec["action"] == "ledger.checkpoint" and rec["metadata"] == cp, cp["seq"]
    assert recs[cp["seq"] - 1]["hash"] == cp["head_hash"], cp["seq"]
    open(f"{sys.argv[4]}{i}", "w").write(cp["statement"] + "\n")
    open(f"{sys.argv[4]}{i}.minisig", "w").write(cp["minisig"])
last = cps[-1]
assert recs[last["seq"] - 1]["action"] == "host.stopped", "the shutdown checkpoint covers host.stopped"
PY
# The outputs follow the output event schema.
/usr/bin/python3 - "$(dirname "$0")/../../schemas" "$D/out" <<'PY' || fail "outputs do not follow the schema"
import glob, json, sys
import jsonschema
schemas = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/*.json")]
store = {s["$id"]: s for s in schemas}
s = next(s for s in schemas if s["$id"].endswith("/output-event.schema.json"))
v = jsonschema.Draft202012Validator(s, resolver=jsonschema.RefResolver.from_schema(s, store=store))
for line in open(sys.argv[2]):
    for e in v.iter_errors(json.loads(line)):
        sys.exit(f"{line[:80]}: {e.message[:300]}")
PY
for i in 0 1; do
    minisign -V -p "$K/node.pub" -m "$WORK/cp$i" > "$WORK/v$i" 2>&1 || fail "minisign -V refuses checkpoint $i: $(cat "$WORK/v$i")"
    expect_contains "$WORK/v$i" "Signature and comment signature verified"
    expect_contains "$WORK/v$i" 'Trusted comment: {"type":"smart-ledger-checkpoint","node_id":"NODE-TEST-001","seq":'
done
# A changed statement is refused by minisign too.
sed -i 's/"seq":/"seq":1/' "$WORK/cp0"
minisign -V -p "$K/node.pub" -m "$WORK/cp0" > /dev/null 2>&1 && fail "minisign accepts a changed statement"

# A second run appends to the checkpoints file.
"$HOST" run "$D/node.json" --events /dev/null --clock 2025-02-13T09:00:00Z > "$D/out2" 2> "$D/err2"
expect_status 0 $? "second run"
[ "$(wc -l < "$C")" -eq 3 ] || fail "the second run's shutdown checkpoint is not appended"

# A checkpoint line torn by a crash is cut off at the next start, and the file stays whole.
printf '{"node_id":"NODE-TEST-001","seq":' >> "$C"
"$HOST" run "$D/node.json" --events /dev/null --clock 2025-02-13T10:00:00Z > /dev/null 2> "$D/err2"
expect_status 0 $? "run after a torn checkpoint line"
[ "$(wc -l < "$C")" -eq 4 ] || fail "expected 4 whole lines in $C"
"$HOST" ledger verify "$L" --key "$K/node.pub" --checkpoints "$C" > "$D/verify" 2>&1 ||
    fail "verify after a torn checkpoint line: $(cat "$D/verify")"
expect_contains "$D/verify" "(4 checkpoints in the ledger, 4 in $C)"

# checkpoint_interval_s: 1 to 86400, and only with signing_key.
sed 's|"modules"|"checkpoint_interval_s": 0, "modules"|' "$D/node.json" > "$D/bad.json"
"$HOST" run "$D/bad.json" --events /dev/null > /dev/null 2> "$D/err4"
expect_status 2 $? "checkpoint_interval_s 0"
expect_contains "$D/err4" "checkpoint_interval_s: must be an integer, 1 to 86400"
sed -e 's|"signing_key": "[^"]*",||' -e 's|"modules"|"checkpoint_interval_s": 5, "modules"|' "$D/node.json" > "$D/bad.json"
"$HOST" run "$D/bad.json" --events /dev/null > /dev/null 2> "$D/err4"
expect_status 2 $? "checkpoint_interval_s without signing_key"
expect_contains "$D/err4" "checkpoint_interval_s: needs signing_key"

# Without signing_key the event is refused; with an exposed key the host does not start.
U=$WORK/unsigned
mkdir -p "$U"
write_node "$U" "[{\"path\": \"$ECHO\"}]"
echo '{"topic":"ledger.checkpoint"}' | "$HOST" run "$U/node.json" > /dev/null 2> "$U/err"
expect_status 0 $? "unsigned run"
expect_contains "$U/err" "ledger.checkpoint: this node signs nothing (no signing_key in NODE.json)"
[ ! -e "$U/var/ledger.jsonl.checkpoints" ] || fail "an unsigned node wrote a checkpoints file"
chmod 644 "$K/node.key"
"$HOST" run "$D/node.json" --events /dev/null > /dev/null 2> "$D/err3"
expect_status 2 $? "exposed secret key"
expect_contains "$D/err3" "signing_key: secret key $K/node.key: group or others may access it (mode 0644); chmod 600 it"
echo "ok"

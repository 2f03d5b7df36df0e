# module_json.sh SMART_HOST BAD_JSON_MODULE — what a module hands the host as JSON (ledger
# metadata, alerts, output data) is parsed in full (issue 11, defects 1, 7, 10): one object,
# valid UTF-8, no key twice, nothing after it, at most SMART_JSON_MAX bytes. Each bad case is
# refused with SMART_EINVAL and leaves nothing behind: the outputs, the alerts file and the
# ledger hold only JSON lines, the ledger verifies, and the next start takes it as it is.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
HERE=$(dirname "$0")
. "$HERE/lib.sh"

# has FILE TEXT — like expect_contains, without printing FILE (a bad host prints megabytes).
has() { grep -qF -- "$2" "$1" || fail "$1 does not contain: $2"; }

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$MODULE\"}]"
echo '{"topic":"bad.cases","data":{}}' | "$HOST" run "$D/node.json" > "$D/out" 2> "$D/err"
expect_status 0 $? "count the cases"
count=$(sed -n 's/.*"bad.count","data":{"count":\([0-9]*\)}.*/\1/p' "$D/out")
[ -n "$count" ] && [ "$count" -gt 1 ] || fail "no case count in $(cat "$D/out")"

: > "$D/events.jsonl"
for call in meta alert output; do
    for n in $(seq 0 $((count - 1))); do
        echo "{\"topic\":\"bad.$call\",\"data\":{\"case\":$n}}" >> "$D/events.jsonl"
    done
done
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "run with bad JSON from the module"
# Cases 0 and 1 are good. Case 8 is {"a":1} followed by a NUL inside the length: metadata is a
# C string, so there it is a good object too.
for call in meta alert output; do
    for n in $(seq 0 $((count - 1))); do
        rc=-22
        [ "$n" -le 1 ] || [ "$call.$n" = meta.8 ] && rc=0
        has "$D/out" "{\"call\":\"$call\",\"case\":$n,\"rc\":$rc}"
    done
done
# The reasons reach the module (it logs them).
has "$D/err" "metadata: not valid JSON"
has "$D/err" "alert: not valid JSON"
has "$D/err" "more than the 1048576 a module may hand the host"
python3 "$HERE/strict_json_lines.py" "$D/out" "$D/var/alerts.jsonl" "$D/var/ledger.jsonl" ||
    fail "a line the host wrote is not one JSON object"
[ "$(grep -c '"topic":"bad.output"' "$D/out")" -eq 2 ] || fail "a bad output was printed"
[ "$(grep -c '"action":"bad.meta"' "$D/var/ledger.jsonl")" -eq 3 ] ||
    fail "a record with bad metadata was appended"
[ "$(wc -l < "$D/var/alerts.jsonl")" -eq 2 ] || fail "a bad alert was written"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"

# The next start takes the ledger as it is: no torn tail, no refusal.
echo '{"topic":"bad.cases","data":{}}' | "$HOST" run "$D/node.json" > "$D/out2" 2> "$D/err2"
expect_status 0 $? "restart on the ledger"
if grep -q "torn" "$D/err2"; then fail "restart found a torn tail: $(cat "$D/err2")"; fi
echo "ok"

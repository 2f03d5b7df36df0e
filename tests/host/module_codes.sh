# module_codes.sh SMART_HOST BAD_CODES_MODULE — return codes outside the documented set are
# failures, and a failed on_event keeps none of its outputs (issue 11, defect 9): init +7 is a
# refused module, commit +1 stops the host (exit 4), on_event +3 or SMART_EINVAL is a rejected
# event whose output, alert and posted event are dropped.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"

# on_event failing after it emitted: only input.rejected is left of it.
write_node "$D" "[{\"path\": \"$MODULE\"}]"
cat > "$D/events.jsonl" <<'JSON'
{"topic":"codes.fail","data":{}}
{"topic":"codes.odd","data":{}}
{"topic":"codes.ping","data":{}}
JSON
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "run with failing events"
[ "$(cat "$D/out")" = '{"topic":"codes.pong","data":{}}' ] ||
    fail "outputs of failed calls were kept: $(cat "$D/out")"
[ ! -s "$D/var/alerts.jsonl" ] || fail "an alert of a failed call was kept"
expect_contains "$D/err" "events.jsonl:1: data: refused after emitting"
expect_contains "$D/err" "events.jsonl:2: data: refused after emitting"
[ "$(grep -c '"action":"input.rejected"' "$D/var/ledger.jsonl")" -eq 2 ] ||
    fail "expected two input.rejected records"
grep -q '"codes.dropped"' "$D/var/ledger.jsonl" && fail "a dropped output reached the ledger"

# init returning +7: refused, and with no other module the host exits 5.
rm -rf "$D/var"
write_node "$D" "[{\"path\": \"$MODULE\", \"config\": {\"init_rc\": 7}}]"
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 5 $? "init returning +7"
expect_contains "$D/err" "init returned 7, not 0 or a negative SMART_E* code"
[ ! -s "$D/out" ] || fail "a refused module answered"

# commit returning +1: the host stops at the first batch, answering nothing.
rm -rf "$D/var"
write_node "$D" "[{\"path\": \"$MODULE\", \"config\": {\"commit_rc\": 1}}]"
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 4 $? "commit returning +1"
expect_contains "$D/err" "commit returned 1, not 0 or a negative SMART_E* code"
[ ! -s "$D/out" ] || fail "a batch whose commit failed was answered: $(cat "$D/out")"
echo "ok"

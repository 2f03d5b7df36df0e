# module_threads.sh SMART_HOST THREADS_MODULE — a module calling the host from a thread of its
# own is refused (issue 11, defect 2): every call returns SMART_EBUSY (now_ms too; ledger_seq
# and ledger_head UINT64_MAX), none leaves anything in the ledger, the alerts or the outputs,
# the module is named on standard error once for all its calls, and the ledger verifies.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

D=$WORK/run
mkdir -p "$D"
write_node "$D" "[{\"path\": \"$MODULE\"}]"
printf '%s\n' '{"topic":"thread.go","data":{}}' '{"topic":"thread.go","data":{}}' \
    > "$D/events.jsonl"
"$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
expect_status 0 $? "run with calls from another thread"
want='{"append":-16,"alert":-16,"emit":-16,"post":-16,"hash_at":-16,"now":-16,"seq_max":1,"head_max":1}'
[ "$(grep -cF "{\"topic\":\"thread.result\",\"data\":$want}" "$D/out")" -eq 2 ] ||
    { cat "$D/out" >&2; fail "a call from another thread was not refused with SMART_EBUSY"; }
[ "$(wc -l < "$D/out")" -eq 2 ] || { cat "$D/out" >&2; fail "a call from another thread left an output"; }
[ ! -s "$D/var/alerts.jsonl" ] || fail "an alert from another thread was written"
grep -q 'thread.record' "$D/var/ledger.jsonl" && fail "a record from another thread was appended"
[ "$(grep -c 'module test-threads: called the host from a thread other than the loop' "$D/err")" \
    -eq 1 ] || { cat "$D/err" >&2; fail "the module is not named exactly once"; }
grep -q 'must not appear' "$D/err" && fail "a log line from another thread was written"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

# module_lifecycle.sh SMART_HOST LIFECYCLE_MODULE ECHO_MODULE — the shutdown contract enforced
# (issue 11, defect 3): a shutdown never done ends at the deadline ($SMART_HOST_SHUTDOWN_MS,
# here 300 ms) with host.stopped and exit 7, also with a timer of the module's left running;
# done twice is counted once (the other module shuts down properly); a handle left open after
# done is closed by the host before the image goes (exit 7, no crash); init returning 0 without
# an instance is a refused module.
HOST=$(realpath -- "$1")
MODULE=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
. "$(dirname "$0")/lib.sh"
export SMART_HOST_SHUTDOWN_MS=300

D=$WORK/run
mkdir -p "$D"
echo '{"topic":"life.ping","data":{}}' > "$D/events.jsonl"
run_mode() { # MODE [EXTRA_MODULES_JSON]
    rm -rf "$D/var"
    write_node "$D" "[{\"path\": \"$MODULE\", \"config\": {\"mode\": \"$1\"}}${2:-}]"
    timeout 20 "$HOST" run "$D/node.json" --events "$D/events.jsonl" > "$D/out" 2> "$D/err"
}

for mode in never_done never_done_timer; do
    run_mode $mode; rc=$?
    [ $rc -ne 124 ] || fail "$mode: the host hung"
    expect_status 7 $rc "$mode"
    expect_contains "$D/err" "module test-lifecycle: shutdown not done after 300 ms"
    expect_contains "$D/var/ledger.jsonl" '"action":"module.shutdown_timeout"'
    expect_contains "$D/var/ledger.jsonl" '"action":"host.stopped"'
    expect_contains "$D/out" '{"topic":"life.pong","data":{}}'
done

run_mode done_twice ", {\"path\": \"$ECHO\"}"; rc=$?
[ $rc -ne 124 ] || fail "done_twice: the host hung"
expect_status 0 $rc "done_twice"
expect_contains "$D/err" "module test-lifecycle: shutdown done called again or after its deadline"
expect_contains "$D/var/ledger.jsonl" '"action":"echo.stopped"'
expect_contains "$D/var/ledger.jsonl" '"action":"host.stopped"'

run_mode timer_after_done; rc=$?
[ $rc -ne 124 ] || fail "timer_after_done: the host hung"
expect_status 7 $rc "timer_after_done"
expect_contains "$D/err" "module test-lifecycle: 1 handle(s) still open after its shutdown"
expect_contains "$D/var/ledger.jsonl" '"action":"module.handles_left"'

run_mode null_self; rc=$?
expect_status 5 $rc "null_self"
expect_contains "$D/err" "init returned 0 and no instance"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null 2>&1; expect_status 0 $? "verify"
echo "ok"

# station_lock.sh SMART_HOST MAINTENANCE EXAMPLE_DIR — one writer per station. While host A
# runs, a second host on the same NODE.json is refused before it touches anything (exit 6,
# naming the ledger's lock and A's pid), and a host of another NODE.json whose module shares
# A's data_dir has that module refused (exit 5, naming data_dir and A's pid); A goes on
# unaffected and its ledger verifies. A killed A (SIGKILL) holds nothing: a new start runs
# (and the other NODE.json then gets the data_dir, but its store does not match that ledger).
# Another name of A's ledger (a symlink, a symlinked directory) finds the same lock.
HOST=$(realpath -- "$1")
MAINT=$(realpath -- "$2")
EXAMPLE=$(realpath -- "$3")
. "$(dirname "$0")/lib.sh"

CLOCK=2025-02-13T07:00:00Z
D=$WORK/a
mkdir -p "$D" "$WORK/b"
cp -r "$EXAMPLE/contracts" "$D/contracts"
write_node "$D" "[{\"path\": \"$MAINT\", \"config\": {\"contracts_dir\": \"contracts\", \"data_dir\": \"var/maintenance\"}}]"
# Another station's NODE.json: its own ledger, but A's data_dir.
cp -r "$EXAMPLE/contracts" "$WORK/b/contracts"
write_node "$WORK/b" "[{\"path\": \"$MAINT\", \"config\": {\"contracts_dir\": \"contracts\", \"data_dir\": \"$D/var/maintenance\"}}]"
QUERY='{"topic":"status.query","data":{}}'

# start_a — host A on a FIFO-fed stdin (fd 3 writes to it) and a FIFO stdout (fd 4 reads it);
# returns once A has answered a first event, so it holds both locks (taken before any input).
start_a() {
    rm -f "$WORK/in" "$WORK/out"
    mkfifo "$WORK/in" "$WORK/out"
    "$HOST" run "$D/node.json" --clock "$CLOCK" < "$WORK/in" > "$WORK/out" 2> "$WORK/err-a" &
    A=$!
    exec 3> "$WORK/in" 4< "$WORK/out"
    echo "$QUERY" >&3
    answer=
    until [[ $answer == '{"topic":"status"'* ]]; do
        read -r -t 60 answer <&4 || fail "host A did not answer its first event"
    done
}

start_a
records_before=$(wc -l < "$D/var/ledger.jsonl")

# B on the same NODE.json: refused at once, nothing written.
"$HOST" run "$D/node.json" --clock "$CLOCK" < /dev/null > "$WORK/out-b" 2> "$WORK/err-b"
expect_status 6 $? "a second host on the same NODE.json"
expect_contains "$WORK/err-b" "smart-host: ledger $D/var/ledger.jsonl is in use: lock $D/var/ledger.jsonl.lock is held by process $A; refusing to start a second host on this station"
[ ! -s "$WORK/out-b" ] || fail "the refused host printed output"
[ "$(wc -l < "$D/var/ledger.jsonl")" -eq "$records_before" ] || fail "the refused host wrote to the ledger"

# The same ledger by other names (LEDGER.lock was found by the name as given, so these started a
# second writer): a symlink to the ledger, a symlinked directory, and `ledger ship` through the
# symlink, which must see A running (and ship only what A's mark says is durable), not take the
# lock, sync and ship every line as with no host running.
mkdir -p "$WORK/alias"
ln -s "$D/var/ledger.jsonl" "$WORK/alias/other-name.jsonl"
ln -s "$D/var" "$WORK/var-link"
for ledger in "$WORK/alias/other-name.jsonl" "$WORK/var-link/ledger.jsonl"; do
    rm -rf "$WORK/s" && mkdir -p "$WORK/s"
    cat > "$WORK/s/node.json" <<JSON
{"node_id": "NODE-TEST-001", "station_type": "LP", "ledger": "$ledger",
 "alerts": "var/alerts.jsonl", "modules": []}
JSON
    "$HOST" run "$WORK/s/node.json" --clock "$CLOCK" < /dev/null > "$WORK/out-s" 2> "$WORK/err-s"
    expect_status 6 $? "a second host on the ledger as $ledger"
    expect_contains "$WORK/err-s" "smart-host: ledger $ledger is in use: lock $D/var/ledger.jsonl.lock is held by process $A; refusing to start a second host on this station"
    [ "$(wc -l < "$D/var/ledger.jsonl")" -eq "$records_before" ] ||
        fail "the host on $ledger wrote to the ledger"
done
"$HOST" ledger ship "$WORK/alias/other-name.jsonl" --to "postgresql://nobody@127.0.0.1:1/fleet" \
    --wait 0 > "$WORK/out-ship" 2> "$WORK/err-ship"
expect_contains "$WORK/out-ship" "durable: a host is running (ledger $WORK/alias/other-name.jsonl is in use: lock $D/var/ledger.jsonl.lock is held by process $A)"

# C on another NODE.json sharing only the data_dir: its module is refused.
"$HOST" run "$WORK/b/node.json" --clock "$CLOCK" < /dev/null > "$WORK/out-c" 2> "$WORK/err-c"
expect_status 5 $? "a module on a data_dir in use"
expect_contains "$WORK/err-c" "init failed: data_dir $D/var/maintenance is in use: process $A holds $D/var/maintenance/lock; one module instance per data_dir; running on without it"
[ ! -s "$WORK/out-c" ] || fail "the refused module's host printed output"

# A is unaffected: it answers the next event, ends cleanly, and its ledger verifies.
echo "$QUERY" >&3
answer=
until [[ $answer == '{"topic":"status"'* ]]; do
    read -r -t 60 answer <&4 || fail "host A stopped answering"
done
exec 3>&-
cat <&4 > /dev/null
exec 4<&-
wait "$A"
expect_status 0 $? "host A"
[ ! -s "$WORK/err-a" ] || fail "host A complained: $(cat "$WORK/err-a")"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null || fail "A's ledger does not verify"
[ "$(grep -c '"action":"host.started"' "$D/var/ledger.jsonl")" -eq 1 ] ||
    fail "a refused host recorded a start"

# A killed outright: the kernel drops its locks, and both NODE.json start again.
start_a
kill -KILL "$A"
wait "$A"
expect_status 137 $? "host A killed"
exec 3>&- 4<&-
echo "$QUERY" | "$HOST" run "$D/node.json" --clock "$CLOCK" > "$WORK/out-d" 2> "$WORK/err-d"
expect_status 0 $? "a restart after host A was killed (stderr: $(cat "$WORK/err-d"))"
# The data_dir is free again, but its store is committed through A's ledger, not this one's.
echo "$QUERY" | "$HOST" run "$WORK/b/node.json" --clock "$CLOCK" > "$WORK/out-e" 2> "$WORK/err-e"
expect_status 3 $? "the data_dir's other NODE.json after A was killed"
expect_contains "$WORK/err-e" "ledger $WORK/b/var/ledger.jsonl does not hold what module $MAINT's store committed through: the store in $D/var/maintenance is committed through ledger record"
"$HOST" ledger verify "$D/var/ledger.jsonl" > /dev/null || fail "A's ledger after the restart"
echo "station_lock: ok"

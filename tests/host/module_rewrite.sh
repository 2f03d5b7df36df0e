# module_rewrite.sh SMART_HOST BIG_IMAGE — a module file rewritten in place (issue 11, defect 4).
# The host maps a private copy of every image, the first included, so truncating the configured
# file or writing a new build over it in place never touches what runs; a reload (SIGHUP) of a
# file caught half written is refused as incomplete, before anything is mapped, and the running
# version goes on; a complete build reloads. Copies a crashed run left in the station's own
# directory are removed at the next start, and after a run no copy and no directory is left.
HOST=$(realpath -- "$1")
BIG=$(realpath -- "$2")
. "$(dirname "$0")/lib.sh"

export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
D=$WORK/node
mkdir -p "$D/modules" "$D/var"
MOD=$D/modules/big.so
cp "$BIG" "$MOD"
write_node "$D" '[{"path": "modules/big.so"}]'
L=$D/var/ledger.jsonl

# The station's directory for copies (module_loader.h): digest of the ledger's absolute path.
DIGEST=$(printf '%s' "$(realpath "$D/var")/ledger.jsonl" | sha256sum | cut -c1-16)
STATION_TMP=$TMPDIR/smart-host-$(id -u)-$DIGEST
# What a crash between a copy and its unlink leaves behind, and another station's copy.
mkdir -m 700 "$STATION_TMP" "$TMPDIR/smart-host-$(id -u)-0000000000000000"
cp "$BIG" "$STATION_TMP/smart-module-LEFT01.so"
cp "$BIG" "$TMPDIR/smart-host-$(id -u)-0000000000000000/smart-module-OTHER1.so"

mkfifo "$D/in"
"$HOST" run "$D/node.json" --events "$D/in" > "$D/out" 2> "$D/err" &
HOST_PID=$!
exec 3> "$D/in"
send() { printf '%s\n' "$@" >&3; }
wait_for() {
    for _ in $(seq 500); do
        [ "$(grep -cF -- "$2" "$D/out")" -ge "$1" ] && return 0
        kill -0 "$HOST_PID" 2> /dev/null || break
        sleep 0.02
    done
    cat "$D/out" "$D/err" >&2
    fail "waiting for $1 x $2 (host alive: $(kill -0 "$HOST_PID" 2> /dev/null && echo yes || echo no))"
}

send '{"topic":"big.sum","data":{"page":16}}'
wait_for 1 '{"topic":"big.sum","data":{"sum":17}}'
[ ! -e "$STATION_TMP/smart-module-LEFT01.so" ] || fail "a crashed run's copy was not removed"
[ -e "$TMPDIR/smart-host-$(id -u)-0000000000000000/smart-module-OTHER1.so" ] ||
    fail "another station's copy was removed"
expect_contains "$D/err" "removed 1 module copies a crashed run left behind"
[ -z "$(ls -A "$STATION_TMP")" ] || fail "copies left on disk while running: $(ls "$STATION_TMP")"

# Truncated in place: a host running from the configured file dies of SIGBUS here.
: > "$MOD"
send '{"topic":"big.sum","data":{"page":240}}'
wait_for 1 '{"topic":"big.sum","data":{"sum":241}}'

# Half of a new build written in place, then SIGHUP: refused before it is mapped.
head -c 100000 "$BIG" > "$MOD"
kill -HUP "$HOST_PID"
wait_for 1 '"topic":"module.reload_failed"'
expect_contains "$D/out" 'incomplete file (100000 bytes)'
send '{"topic":"big.sum","data":{"page":128}}'
wait_for 1 '{"topic":"big.sum","data":{"sum":129}}'

# Not an ELF file at all.
printf 'not a module\n' > "$MOD"
kill -HUP "$HOST_PID"
wait_for 2 '"topic":"module.reload_failed"'

# The whole build, written in place: reloaded, and the new image answers.
cat "$BIG" > "$MOD"
kill -HUP "$HOST_PID"
wait_for 1 '"topic":"module.reloaded"'
: > "$MOD" # the reloaded image is a private copy too
send '{"topic":"big.sum","data":{"page":255}}'
wait_for 1 '{"topic":"big.sum","data":{"sum":0}}'
send '{"topic":"big.sum","data":{"page":32}}'
wait_for 1 '{"topic":"big.sum","data":{"sum":33}}'

exec 3>&-
wait "$HOST_PID"
expect_status 0 $? "exit"
"$HOST" ledger verify "$L" > /dev/null || fail "ledger does not verify"
[ ! -e "$STATION_TMP" ] || fail "the station's copy directory is left: $(ls -A "$STATION_TMP")"
echo ok

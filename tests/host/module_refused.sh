# module_refused.sh SMART_HOST ECHO BAD_MAJOR BAD_MINOR NO_ENTRY — modules the host must
# refuse at start-up (exit 5, a message naming the module's path, a module.refused record),
# and module lookup by bare name through $SMART_MODULE_PATH.
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
BAD_MAJOR=$(realpath -- "$3")
BAD_MINOR=$(realpath -- "$4")
NO_ENTRY=$(realpath -- "$5")
. "$(dirname "$0")/lib.sh"

# refused NAME MODULES_JSON MESSAGE — the run must exit 5 with MESSAGE on stderr.
refused() {
    local d=$WORK/$1
    mkdir -p "$d"
    write_node "$d" "$2"
    "$HOST" run "$d/node.json" < /dev/null > "$d/out" 2> "$d/err"
    expect_status 5 $? "$1"
    expect_contains "$d/err" "$3"
    expect_contains "$d/var/ledger.jsonl" '"action":"module.refused"'
    "$HOST" ledger verify "$d/var/ledger.jsonl" > /dev/null || fail "$1: ledger"
}

refused bad-major "[{\"path\": \"$BAD_MAJOR\"}]" \
    "smart-host: module $BAD_MAJOR: built for SMART ABI 2.0, but this host speaks 1.0 (a different major version is incompatible)"
refused bad-minor "[{\"path\": \"$BAD_MINOR\"}]" \
    "smart-host: module $BAD_MINOR: built for SMART ABI 1.1, newer than this host's 1.0"
refused no-entry "[{\"path\": \"$NO_ENTRY\"}]" \
    "smart-host: module $NO_ENTRY: exports no smart_plugin_entry()"
refused missing "[{\"path\": \"$WORK/nowhere/missing.so\"}]" \
    "smart-host: module $WORK/nowhere/missing.so: cannot load:"
refused not-found "[{\"path\": \"no-such-module.so\"}]" \
    "smart-host: module no-such-module.so: not found in \$SMART_MODULE_PATH"
refused init-fails "[{\"path\": \"$ECHO\", \"config\": {\"fail_init\": true}}]" \
    "smart-host: module $ECHO: init failed: config.fail_init: asked to fail"
refused duplicate "[{\"path\": \"$ECHO\"}, {\"path\": \"$ECHO\"}]" \
    "name 'test-echo' is already taken by $ECHO"

# A good module loaded before a refused one is shut down properly (its handles closed).
refused after-good "[{\"path\": \"$ECHO\"}, {\"path\": \"$BAD_MAJOR\"}]" \
    "smart-host: module $BAD_MAJOR: built for SMART ABI 2.0"
expect_contains "$WORK/after-good/var/ledger.jsonl" '"action":"echo.stopped"'
expect_contains "$WORK/after-good/var/ledger.jsonl" '"action":"host.stopped"'

# A bare module name is searched in $SMART_MODULE_PATH.
S=$WORK/search
mkdir -p "$S"
write_node "$S" "[{\"path\": \"$(basename "$ECHO")\"}]"
echo '{"topic":"echo.ping","data":{"via":"search path"}}' |
    SMART_MODULE_PATH="$WORK/empty:$(dirname "$ECHO")" "$HOST" run "$S/node.json" > "$S/out"
expect_status 0 $? "module found through SMART_MODULE_PATH"
expect_contains "$S/out" '{"topic":"echo.pong","data":{"via":"search path"}}'

echo "ok"

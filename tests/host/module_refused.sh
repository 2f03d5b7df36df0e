# module_refused.sh SMART_HOST ECHO BAD_MAJOR BAD_MINOR NO_ENTRY FAIL_INIT INSTALL_DIR — modules
# the host must refuse (a message naming the module's path, a module.refused record). A refused
# module is left out and the host runs on with the others; only when no module at all could be
# loaded does start-up fail (exit 5). Also module lookup by bare name through
# $SMART_MODULE_PATH, then beside the host (../plugin) and in the install directory.
HOST=$(realpath -- "$1")
ECHO=$(realpath -- "$2")
BAD_MAJOR=$(realpath -- "$3")
BAD_MINOR=$(realpath -- "$4")
NO_ENTRY=$(realpath -- "$5")
FAIL_INIT=$(realpath -- "$6")
INSTALL_DIR=$7
. "$(dirname "$0")/lib.sh"

# refused NAME MODULES_JSON MESSAGE — the only module is refused: the run must exit 5 with
# MESSAGE on stderr, print nothing, and leave a verifiable ledger with module.refused.
refused() {
    local d=$WORK/$1
    mkdir -p "$d"
    write_node "$d" "$2"
    echo '{"topic":"echo.ping","data":{}}' | "$HOST" run "$d/node.json" > "$d/out" 2> "$d/err"
    expect_status 5 $? "$1"
    expect_contains "$d/err" "$3"
    expect_contains "$d/err" "smart-host: no module could be loaded; stopping"
    [ ! -s "$d/out" ] || fail "$1: printed output"
    expect_contains "$d/var/ledger.jsonl" '"action":"module.refused"'
    "$HOST" ledger verify "$d/var/ledger.jsonl" > /dev/null || fail "$1: ledger"
}

refused bad-major "[{\"path\": \"$BAD_MAJOR\"}]" \
    "smart-host: module $BAD_MAJOR: built for SMART ABI 2.0, but this host speaks 1.2 (a different major version is incompatible)"
refused bad-minor "[{\"path\": \"$BAD_MINOR\"}]" \
    "smart-host: module $BAD_MINOR: built for SMART ABI 1.3, newer than this host's 1.2"
refused no-entry "[{\"path\": \"$NO_ENTRY\"}]" \
    "smart-host: module $NO_ENTRY: exports no smart_plugin_entry()"
refused missing "[{\"path\": \"$WORK/nowhere/missing.so\"}]" \
    "smart-host: module $WORK/nowhere/missing.so: cannot load:"
refused not-found "[{\"path\": \"no-such-module.so\"}]" \
    "smart-host: module no-such-module.so: not found in \$SMART_MODULE_PATH (unset) or $(dirname "$HOST")/../plugin:$INSTALL_DIR"
refused init-fails "[{\"path\": \"$ECHO\", \"config\": {\"fail_init\": true}}]" \
    "smart-host: module $ECHO: init failed: config.fail_init: asked to fail"
refused fail-init-module "[{\"path\": \"$FAIL_INIT\"}]" \
    "smart-host: module $FAIL_INIT: init failed: config.store: this test module never starts"

# Every kind of bad module beside a good one: each is refused with its own message, the good
# one runs and answers, the run ends normally (exit 0).
R=$WORK/run-on
mkdir -p "$R"
write_node "$R" "[{\"path\": \"$BAD_MAJOR\"}, {\"path\": \"$NO_ENTRY\"}, {\"path\": \"$ECHO\"},
  {\"path\": \"$FAIL_INIT\"}, {\"path\": \"$WORK/nowhere/missing.so\"}, {\"path\": \"$ECHO\"}]"
printf '%s\n' '{"topic":"echo.ping","data":{"n":1}}' '{"topic":"echo.version"}' |
    "$HOST" run "$R/node.json" > "$R/out" 2> "$R/err"
expect_status 0 $? "run on with the good module"
cat > "$R/expected" <<'JSON'
{"topic":"echo.pong","data":{"n":1}}
{"topic":"echo.version","data":{"version":"1.0.0"}}
JSON
diff -u "$R/expected" "$R/out" || fail "run on: outputs differ (a duplicate must not answer twice)"
expect_contains "$R/err" "smart-host: module $BAD_MAJOR: built for SMART ABI 2.0, but this host speaks 1.2 (a different major version is incompatible); running on without it"
expect_contains "$R/err" "smart-host: module $NO_ENTRY: exports no smart_plugin_entry(); it is not a SMART module (or was built without exporting its entry point); running on without it"
expect_contains "$R/err" "smart-host: module $FAIL_INIT: init failed: config.store: this test module never starts; running on without it"
expect_contains "$R/err" "smart-host: module $WORK/nowhere/missing.so: cannot load:"
expect_contains "$R/err" "smart-host: module $ECHO: name 'test-echo' is already taken by $ECHO; running on without it"
[ "$(grep -c 'running on without it' "$R/err")" -eq 5 ] || fail "run on: expected 5 refusals"
L=$R/var/ledger.jsonl
"$HOST" ledger verify "$L" > /dev/null || fail "run on: ledger"
[ "$(grep -c '"action":"module.refused"' "$L")" -eq 5 ] || fail "run on: expected 5 module.refused"
[ "$(grep -c '"action":"module.loaded"' "$L")" -eq 1 ] || fail "run on: expected 1 module.loaded"
expect_contains "$L" "\"action\":\"module.refused\",\"target\":\"$FAIL_INIT\",\"details\":\"module $FAIL_INIT: init failed: config.store: this test module never starts\""
expect_contains "$L" "\"modules\":[{\"name\":\"test-echo\",\"version\":\"1.0.0\",\"path\":\"$ECHO\"}],\"refused\":[\"$BAD_MAJOR\",\"$NO_ENTRY\",\"$FAIL_INIT\",\"$WORK/nowhere/missing.so\",\"$ECHO\"]"
expect_contains "$L" '"action":"echo.stopped"'
tail -n 1 "$L" | grep -qF '"action":"host.stopped"' || fail "run on: host.stopped is not last"
tail -n 1 "$L" | grep -qF '"metadata":{"exit_code":0}' || fail "run on: exit code recorded"

# A bare module name is searched in $SMART_MODULE_PATH.
S=$WORK/search
mkdir -p "$S"
write_node "$S" "[{\"path\": \"$(basename "$ECHO")\"}]"
echo '{"topic":"echo.ping","data":{"via":"search path"}}' |
    SMART_MODULE_PATH="$WORK/empty:$(dirname "$ECHO")" "$HOST" run "$S/node.json" > "$S/out"
expect_status 0 $? "module found through SMART_MODULE_PATH"
expect_contains "$S/out" '{"topic":"echo.pong","data":{"via":"search path"}}'

echo "ok"

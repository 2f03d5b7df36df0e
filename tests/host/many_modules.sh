# many_modules.sh SMART_HOST MAINTENANCE ECHO BAD_MAJOR NO_ENTRY FAIL_INIT EXAMPLE_DIR — the
# maintenance module beside a second module (echo) and three bad ones: the bad ones are refused
# with their own message, the two good ones both run and each answers its own topics, and a
# reload of both keeps the maintenance module's state (it lives in its store on disk).
HOST=$(realpath -- "$1")
MAINT=$(realpath -- "$2")
ECHO=$(realpath -- "$3")
BAD_MAJOR=$(realpath -- "$4")
NO_ENTRY=$(realpath -- "$5")
FAIL_INIT=$(realpath -- "$6")
EXAMPLE=$(realpath -- "$7")
. "$(dirname "$0")/lib.sh"

D=$WORK/node
mkdir -p "$D"
cp -r "$EXAMPLE/contracts" "$D/contracts"
write_node "$D" "[{\"path\": \"$BAD_MAJOR\"},
  {\"path\": \"$MAINT\", \"config\": {\"contracts_dir\": \"contracts\", \"data_dir\": \"var/maintenance\"}},
  {\"path\": \"$NO_ENTRY\"}, {\"path\": \"$ECHO\"}, {\"path\": \"$FAIL_INIT\"}]"
L=$D/var/ledger.jsonl
cat > "$D/events.jsonl" <<'JSON'
{"topic": "echo.ping", "time": "2025-02-13T07:00:00Z", "data": {"n": 1}}
{"topic": "status.query", "data": {}}
{"topic": "clientpo.link", "data": {"clientpo_id": "SC-2025-001-LP", "equipment": ["LP01-UVA-01", "LP01-THM-01", "LP01-RAD-01", "LP01-OVN-01"]}}
{"topic": "calibration.record", "data": {"equipment_id": "LP01-THM-01", "calibration_date": "2025-02-13", "certificate_number": "NCL-2025-02-0417", "provider": "Northbridge Calibration Ltd (ISO/IEC 17025 accredited)", "technician": "J. Alvarez"}}
{"topic": "test.start", "data": {"clientpo_id": "SC-2025-001-LP"}}
{"topic": "status.query", "data": {}}
{"topic": "host.reload"}
{"topic": "status.query", "data": {}}
{"topic": "test.start", "data": {"clientpo_id": "SC-2025-001-LP"}}
{"topic": "echo.ping", "data": {"n": 2}}
JSON
"$HOST" run "$D/node.json" --events "$D/events.jsonl" --clock 2025-02-13T07:00:00Z \
    > "$D/out" 2> "$D/err"
expect_status 0 $? "two modules beside three bad ones"

expect_contains "$D/err" "smart-host: module $BAD_MAJOR: built for SMART ABI 2.0, but this host speaks 1.2 (a different major version is incompatible); running on without it"
expect_contains "$D/err" "smart-host: module $NO_ENTRY: exports no smart_plugin_entry(); it is not a SMART module"
expect_contains "$D/err" "smart-host: module $FAIL_INIT: init failed: config.store: this test module never starts; running on without it"
[ "$(grep -c 'smart-host: ' "$D/err")" -eq 3 ] || fail "expected exactly the 3 refusals on stderr"

# Each input event's answer, in order (status.changed and alerts come with the first sweep).
topics=$(grep -o '^{"topic":"[a-z._]*"' "$D/out" | cut -d'"' -f4 | grep -vxE 'status.changed|alert' |
    tr '\n' ' ')
[ "$topics" = "echo.pong status clientpo.linked calibration.recorded gate.decision status module.reloaded module.reloaded status gate.decision echo.pong " ] ||
    fail "output topics: $topics"
# (The echo module answers with the data as written in the input line.)
grep -qxF '{"topic":"echo.pong","data":{"n": 1}}' "$D/out" || fail "echo did not answer"
grep -qxF '{"topic":"echo.pong","data":{"n": 2}}' "$D/out" || fail "echo did not answer after the reload"
grep -qF '"module":"smart-maintenance","path":"'"$MAINT"'","old_version":' "$D/out" || fail "maintenance not reloaded"
grep -qF '"module":"test-echo","path":"'"$ECHO"'","old_version":"1.0.0"' "$D/out" || fail "echo not reloaded"
# A reload changes no equipment status.
sed -n '/"topic":"module.reloaded"/,$p' "$D/out" | grep -qF '"topic":"status.changed"' &&
    fail "statuses changed across the reload"
# State survives the reload: the same status and the same gate decision before and after.
grep '^{"topic":"status"' "$D/out" | sed -n 2p > "$D/status-before"
grep '^{"topic":"status"' "$D/out" | sed -n 3p > "$D/status-after"
cmp -s "$D/status-before" "$D/status-after" || fail "status changed across the reload"
grep -qF '"certificate_number":"NCL-2025-02-0417"' "$D/status-after" || fail "the calibration was lost"
grep '^{"topic":"gate.decision"' "$D/out" > "$D/gates"
[ "$(sort -u "$D/gates" | wc -l)" -eq 1 ] || fail "gate decision changed across the reload"

"$HOST" ledger verify "$L" > /dev/null || fail "ledger does not verify"
[ "$(grep -c '"action":"module.refused"' "$L")" -eq 3 ] || fail "expected 3 module.refused"
[ "$(grep -c '"action":"module.loaded"' "$L")" -eq 2 ] || fail "expected 2 module.loaded"
[ "$(grep -c '"action":"module.reloaded"' "$L")" -eq 2 ] || fail "expected 2 module.reloaded"
[ "$(grep -c '"module":"smart-maintenance","action":"gate.decision","target":"SC-2025-001-LP"' "$L")" -eq 2 ] ||
    fail "expected 2 gate.decision records"

# Restart: the maintenance module's state is still there.
echo '{"topic": "status.query", "time": "2025-02-13T07:00:00Z", "data": {}}' |
    "$HOST" run "$D/node.json" --clock 2025-02-13T07:00:00Z > "$D/out2" 2> /dev/null
expect_status 0 $? "restart"
cmp -s "$D/status-after" "$D/out2" || fail "status changed across a restart"

echo "ok"

#!/usr/bin/env bash
# The main job, from a fresh Debian machine: installs what it needs, builds, and runs the host
# stub with the maintenance module on the liquid-penetrant station example, replaying the
# seed workflow at a simulated 2025-02-13: the test is blocked (expired thermometer), an alert
# is raised, the calibration is recorded, the test is allowed, and the ledger verifies.
#
# Every event the module emits is printed as one JSON line; a plain-language summary follows.
# The run works in a fresh copy of the example, so it can be repeated.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
.ci/install-deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r examples/lp-station/. "$work/"
rm -rf "$work/var"
export SMART_MODULE_PATH="$root/build/plugin"

# examples/demo.sh --board: the same station with its status board (node-board.json: listen
# 127.0.0.1:8088). The scenario is fed, then the host keeps running, reading more events from
# this terminal, until Ctrl-D or Ctrl-C; open http://127.0.0.1:8088/ meanwhile.
if [ "${1:-}" = "--board" ]; then
  echo "== smart-host run examples/lp-station/node-board.json (board at http://127.0.0.1:8088/)"
  echo "   the scenario is fed, then type more events (one JSON line each); Ctrl-D or Ctrl-C ends"
  { cat "$work/scenario.jsonl"; cat; } |
    build/host-stub/smart-host run "$work/node-board.json" --events - --clock 2025-02-13T07:00:00Z
  exit 0
fi

echo "== smart-host run examples/lp-station/node.json --events scenario.jsonl --clock 2025-02-13T07:00:00Z"
build/host-stub/smart-host run "$work/node.json" --events "$work/scenario.jsonl" \
  --clock 2025-02-13T07:00:00Z | tee "$work/out.jsonl"

echo
echo "== what happened"
/usr/bin/python3 - "$work/out.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line)
    t, d = ev["topic"], ev["data"]
    if t == "gate.decision":
        verdict = "ALLOWED" if d["allowed"] else "BLOCKED"
        why = "; ".join("%s: %s" % (i["equipment_id"], i["reason"])
                        for i in d["equipment"] if not i["ready"])
        print("%s  test for %s %s%s" % (d["decided_at"], d["clientpo_id"], verdict,
                                        " -- " + why if why else ""))
    elif t == "alert":
        print("%s  ALERT %s (%s): %s" % (d["timestamp"], d["alert_type"], d["severity"], d["message"]))
    elif t == "maintenance.checked":
        print("%s  check %s on %s by %s: %s" % (d["performed_at"], d["check_type"], d["equipment_id"],
                                             d["technician"], "passed" if d["passed"] else "FAILED"))
        for step in d["steps"]:  # the hub's checklist: each reading against its text, as read
            if "reference_read_as" in step:
                print("                      step %s %s %s (%r read as %s): %s"
                      % (step["step_id"], step.get("value"), step.get("unit"),
                         step["reference_value"], step["reference_read_as"],
                         "ok" if step["passed"] else "FAILED"))
    elif t == "calibration.recorded":
        print("                      calibration of %s recorded, certificate %s: %s, %d days remaining"
              % (d["equipment_id"], d["certificate_number"], d["status"], d["days_remaining"]))
PY
echo
echo "== smart-host ledger verify var/ledger.jsonl"
build/host-stub/smart-host ledger verify "$work/var/ledger.jsonl"

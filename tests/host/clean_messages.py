#!/usr/bin/env python3
"""clean_messages.py HOST ECHO MAINTENANCE EXAMPLE_DIR — what smart-host writes is clean.

- Standard error: an id holding a newline and ESC (and other controls) comes out escaped, so it
  cannot forge a "smart-host: fatal:" line nor reach the terminal as an escape sequence.
- JSON lines (outputs, ledger, alerts): U+2028/U+2029 from the input are escaped (\\u2028), and
  the value read back is the one sent (a round trip), through a module that passes the input's
  text on (echo) and through the maintenance module (jansson and its own writer).
- Times outside years 0001-9999 are refused as input, naming the field: an event's time,
  --clock, and a date in an event's data.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from host_test import check, failures, write_node as node

HOST, ECHO, MAINT, EXAMPLE = (os.path.realpath(a) for a in sys.argv[1:5])


def run(node_json, lines, *extra):
    return subprocess.run([HOST, "run", node_json, "--clock", "2025-02-13T07:00:00Z", *extra],
                          input="".join(l + "\n" for l in lines).encode("utf-8"),
                          capture_output=True, timeout=60)


def json_lines_clean(path_or_bytes, what):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    check(b"\xe2\x80\xa8" not in data and b"\xe2\x80\xa9" not in data,
          what + ": a raw U+2028/U+2029 was written")
    values = []
    for raw in data.split(b"\n")[:-1]:
        values.append(json.loads(raw.decode("utf-8")))
    return values


work = tempfile.mkdtemp(prefix="smart-clean-")
try:
    # --- standard error ------------------------------------------------------------------
    echo_node = node(os.path.join(work, "echo"), [{"path": ECHO}])
    forged = "X\n smart-host: fatal: forged\x1b[31m\x07\x7f\u0085"
    r = run(echo_node, [json.dumps({"topic": "no.such" + forged, "data": {}}),
                        json.dumps({"topic": "echo.ping", "data": {"id": forged}})])
    check(r.returncode == 0, "echo run exit %d" % r.returncode)
    err = r.stderr
    check(b"\x1b" not in err and b"\x07" not in err and b"\x7f" not in err
          and b"\xc2\x85" not in err, "a control character reached standard error raw")
    err_lines = err.decode("utf-8").split("\n")[:-1]
    check(all(l.startswith("smart-host: ") for l in err_lines), "stderr lines: %r" % err_lines)
    check(not any(l.startswith("smart-host: fatal") or l.startswith(" smart-host") for l in err_lines),
          "a forged line on stderr: %r" % err_lines)
    check(any("unknown topic 'no.suchX\\n smart-host: fatal: forged\\x1b[31m\\x07\\x7f\\u0085'" in l
              for l in err_lines), "the escaped topic is not named: %r" % err_lines)
    check(len(err_lines) == 1, "one message for one refused line: %r" % err_lines)

    # --- U+2028 / U+2029 round trip ------------------------------------------------------
    text = "line\u2028separator\u2029paragraph"
    raw_line = '{"topic":"echo.ping","data":{"note":"%s"}}' % text  # written raw in the input
    r = run(echo_node, [raw_line])
    check(r.returncode == 0, "echo U+2028 run exit %d: %s" % (r.returncode, r.stderr))
    outs = json_lines_clean(r.stdout, "echo outputs")
    pongs = [o for o in outs if o["topic"] == "echo.pong"]
    check(len(pongs) == 1 and pongs[0]["data"]["note"] == text, "echo round trip: %r" % outs)
    check(b"\\u2028" in r.stdout and b"\\u2029" in r.stdout, "echo output not escaped")
    json_lines_clean(os.path.join(work, "echo/var/ledger.jsonl"), "echo ledger")

    maint_root = os.path.join(work, "maint")
    shutil.copytree(os.path.join(EXAMPLE, "contracts"), os.path.join(maint_root, "contracts"))
    maint_node = node(maint_root, [{"path": MAINT, "config": {"contracts_dir": "contracts",
                                                              "data_dir": "var/maintenance"}}])
    record = {"topic": "calibration.record", "data": {
        "equipment_id": "LP01-THM-01", "calibration_date": "2025-02-13",
        "certificate_number": "CERT\u2028-1", "provider": "Lab\u2029Two",
        "technician": "J.\u2028Alvarez", "notes": "n\u2028o\u2029tes"}}
    r = run(maint_node, [json.dumps(record, ensure_ascii=False),
                         '{"topic":"status.query","data":{}}'])
    check(r.returncode == 0, "maintenance U+2028 run exit %d: %s" % (r.returncode, r.stderr))
    outs = json_lines_clean(r.stdout, "maintenance outputs")
    recorded = [o for o in outs if o["topic"] == "calibration.recorded"]
    check(len(recorded) == 1, "calibration.recorded: %r" % [o["topic"] for o in outs])
    check("CERT\u2028-1" in json.dumps(outs, ensure_ascii=False), "certificate lost: %r" % outs)
    ledger = json_lines_clean(os.path.join(maint_root, "var/ledger.jsonl"), "maintenance ledger")
    check("Lab\u2029Two" in json.dumps(ledger, ensure_ascii=False), "provider lost in the ledger")
    v = subprocess.run([HOST, "ledger", "verify", os.path.join(maint_root, "var/ledger.jsonl")],
                       capture_output=True)
    check(v.returncode == 0, "ledger verify: %s" % v.stderr)
    # (the example's thermometer is expired at this clock: the start raises an alert, so the
    # file is there to be checked)
    alerts = os.path.join(maint_root, "var/alerts.jsonl")
    check(os.path.exists(alerts), "no alerts.jsonl: the start raised no alert")
    if os.path.exists(alerts):
        json_lines_clean(alerts, "alerts")

    # --- years outside 0001-9999 ---------------------------------------------------------
    for clock in ["10000-01-01T00:00:00Z", "0000-12-31T00:00:00Z", "9999-12-31T23:00:00-05:00"]:
        r = subprocess.run([HOST, "run", maint_node, "--clock", clock], input=b"",
                           capture_output=True, timeout=60)
        check(r.returncode == 2, "--clock %s: exit %d" % (clock, r.returncode))
        check(("smart-host: --clock: '%s'" % clock).encode() in r.stderr
              and b"outside" in r.stderr, "--clock %s: %s" % (clock, r.stderr))
    for when, reason in [("10000-01-01T00:00:00Z", "more than four digits"),
                         ("0000-01-01T00:00:00Z", "year 0000 is outside 0001-9999"),
                         ("9999-12-31T23:00:00-05:00", "its instant (UTC) is outside")]:
        r = run(maint_node, [json.dumps({"topic": "status.query", "time": when, "data": {}})])
        check(r.returncode == 0, "time %s: exit %d" % (when, r.returncode))
        check(("time: '%s' is not an RFC 3339 timestamp (" % when).encode() in r.stderr
              and reason.encode() in r.stderr, "time %s: %s" % (when, r.stderr))
        check(b'"topic":"status"' not in r.stdout, "time %s: the event was answered" % when)
    for date, reason in [("10000-02-13", "more than four digits"), ("0000-02-13", "year 0000"),
                         ("9999-12-31T23:30:00-01:00", "its instant (UTC) is outside")]:
        event = dict(record)
        event["data"] = dict(record["data"], calibration_date=date, certificate_number="C-" + date)
        r = run(maint_node, [json.dumps(event)])
        check(("data.calibration_date: '%s' is not a valid date: " % date).encode() in r.stderr
              and reason.encode() in r.stderr, "calibration_date %s: %s" % (date, r.stderr))
        check(b'"topic":"calibration.recorded"' not in r.stdout, "date %s: recorded" % date)
finally:
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit(1)
print("clean_messages: ok")

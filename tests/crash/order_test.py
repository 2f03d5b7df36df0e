#!/usr/bin/env python3
"""order_test.py --host HOST --echo ECHO --shim ORDER_SHIM — an output line is written only
after what it reports is on disk.

The alerts file and the ledger are synced together at the end of a batch (batch.c), and the
outputs are handed to their own thread while the next batch runs: the order that makes a line
on standard output mean "on disk" is no longer the program order of one thread. order_shim.so
logs, in the order they happen, every write and sync of the ledger and the alerts file and every
write to standard output. Replaying the log: when the k-th echo.pong and the j-th alert line are
written to standard output, the ledger bytes written before its last completed sync must hold
at least k echo.pong records, and the alerts file's at least j alert lines. Checked for the
input from a file and from a pipe, with every sync of the two files made 20 ms slower (a slow
disk), so that a thread that does not wait for a sync is caught writing before it returns; echo
pings and alerts are mixed so that every batch has both.

A failed write or sync of the alerts file (fault_shim.so, on the alerts syncer's thread) stops
the host (exit 4) naming the alerts file, and nothing is printed after the message.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--echo", required=True)
ap.add_argument("--shim", required=True)
ap.add_argument("--fault-shim", required=True)
ap.add_argument("--events", type=int, default=30000)
args = ap.parse_args()
HOST, ECHO, SHIM, FAULT = (os.path.realpath(p)
                           for p in (args.host, args.echo, args.shim, args.fault_shim))
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return ok


def events(n):
    lines = []
    for i in range(n):
        if i % 3 == 2:
            lines.append('{"topic":"echo.alert","data":{"n":%d}}' % i)
        else:
            lines.append('{"topic":"echo.ping","data":{"n":%d,"pad":"%s"}}' % (i, "p" * 60))
    return "".join(l + "\n" for l in lines).encode()


def replay(log_path, stdout, ledger, alerts, what):
    """Checks every O of the log against the durable prefixes at that point."""
    written = {"ledger": 0, "alerts": 0}
    durable = {"ledger": 0, "alerts": 0}
    printed = 0
    outputs = 0
    for raw in open(log_path):
        kind, _, rest = raw.strip().partition(" ")
        if kind == "W":
            tag, _, n = rest.partition(" ")
            written[tag] += int(n)
        elif kind == "S":
            durable[rest] = written[rest]
        elif kind == "O":
            printed += int(rest)
            outputs += 1
            shown = stdout[:printed]
            pongs = shown.count(b'"topic":"echo.pong"')
            shown_alerts = shown.count(b'"topic":"alert"')
            have_pongs = ledger[:durable["ledger"]].count(b'"action":"echo.pong"')
            have_alerts = alerts[:durable["alerts"]].count(b"\n")
            if not check(have_pongs >= pongs,
                         "%s: output write %d shows %d pongs, the ledger had %d on disk"
                         % (what, outputs, pongs, have_pongs)):
                return
            if not check(have_alerts >= shown_alerts,
                         "%s: output write %d shows %d alerts, the alerts file had %d on disk"
                         % (what, outputs, shown_alerts, have_alerts)):
                return
    check(printed == len(stdout), "%s: %d bytes logged as written, %d on stdout"
          % (what, printed, len(stdout)))
    check(outputs > 3, "%s: only %d output writes: not several batches" % (what, outputs))
    print("%s: %d output writes checked, %d ledger syncs-worth of bytes" %
          (what, outputs, durable["ledger"]))


work = tempfile.mkdtemp(prefix="smart-order-")
try:
    data = events(args.events)
    events_path = os.path.join(work, "events.jsonl")
    with open(events_path, "wb") as f:
        f.write(data)
    for mode in ("file", "pipe"):
        root = os.path.join(work, mode)
        os.makedirs(root)
        node = os.path.join(root, "node.json")
        with open(node, "w") as f:
            json.dump({"node_id": "NODE-TEST-001", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": ECHO}]}, f)
        log_path = os.path.join(root, "order.log")
        # Under ASan the shim comes before the sanitizer's runtime (as fault_shim.so does).
        env = dict(os.environ, LD_PRELOAD=SHIM, SMART_ORDER_LOG=log_path,
                   SMART_ORDER_SYNC_DELAY_MS="20",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        argv = [HOST, "run", node, "--clock", "2025-02-13T07:00:00Z", "--events",
                events_path if mode == "file" else "-"]
        r = subprocess.run(argv, input=data if mode == "pipe" else None,
                           stdin=None if mode == "pipe" else subprocess.DEVNULL,
                           capture_output=True, env=env, timeout=240)
        if not check(r.returncode == 0, "%s: exit %d: %s" % (mode, r.returncode, r.stderr[-400:])):
            continue
        ledger = open(os.path.join(root, "var/ledger.jsonl"), "rb").read()
        alerts = open(os.path.join(root, "var/alerts.jsonl"), "rb").read()
        check(r.stdout.count(b'"topic":"echo.pong"') == args.events - args.events // 3,
              "%s: pongs missing" % mode)
        replay(log_path, r.stdout, ledger, alerts, mode)

    # The alerts file's write (or its sync) fails on the syncer's thread: a fail-stop.
    for after in (0, 1, 3):
        root = os.path.join(work, "fault-%d" % after)
        os.makedirs(root)
        node = os.path.join(root, "node.json")
        with open(node, "w") as f:
            json.dump({"node_id": "NODE-TEST-001", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": ECHO}]}, f)
        env = dict(os.environ, LD_PRELOAD=FAULT, SMART_FAULT_AFTER=str(after),
                   SMART_FAULT_MATCH="alerts.jsonl",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        r = subprocess.run([HOST, "run", node, "--clock", "2025-02-13T07:00:00Z", "--events",
                            events_path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=240)
        text = r.stdout.decode("utf-8", "replace")
        what = "alerts failing after %d calls" % after
        check(r.returncode == 4, "%s: exit %d, not 4: %s" % (what, r.returncode, text[-300:]))
        fatal = text.find("smart-host: fatal: alerts ")
        check(fatal >= 0 and "failed" in text[fatal:fatal + 300],
              "%s: no fatal message naming the alerts file: %s" % (what, text[-300:]))
        check(fatal < 0 or '"topic"' not in text[fatal:], "%s: output after the fatal message"
              % what)
finally:
    shutil.rmtree(work, ignore_errors=True)

sys.exit(1 if failures else 0)

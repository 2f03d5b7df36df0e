"""Benchmark of smart-host report on a long history: a station of 40 items run through
smart-host for about 2.6 simulated years (a daily check of each item, 1,000 test starts a day,
a calibration of each item every 170 days) until its ledger holds RECORDS records (default
1,000,000), then the time of `report due` over the whole ledger and of `report audit` for one
month (HTML), each the median of three runs. Targets: due list under 5 s, audit pack under
10 s (issue 15); measure on a release build.

    report_bench.py --host SMART_HOST --module-dir DIR [--records N] [--keep DIR]"""

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ITEMS = 40
TESTS_PER_DAY = 1000
PO_COUNT = 50
START = datetime.date(2023, 1, 2)


def contract():
    items = []
    for i in range(ITEMS):
        items.append({
            "equipment_id": "BR-%03d" % i, "description": "Item %d" % i,
            "equipment_type": ["uv_a_lamp", "pressure_gauge", "thermometer", "radiometer"][i % 4],
            "calibration_interval_days": 180,
            "tolerances": [{"parameter": "value", "unit": "u", "nominal": 100, "plus_minus": 2}],
            "last_calibration": {"calibration_date": "2023-01-01",
                                 "certificate_number": "BASE-%d" % i, "provider": "Lab"}})
    return {"smart_contract_id": "BR-CAL-001", "contract_type": "SmartMaintenance",
            "version": 1, "station_type": "BR", "title": "Report benchmark",
            "issued_by": "bench", "issued_at": "2022-12-01", "warning_period_days": 30,
            "equipment_list": items,
            "procedures": [{"procedure_id": "BR-DAILY-%03d" % i, "title": "Daily",
                            "equipment": ["BR-%03d" % i], "frequency": "daily",
                            "required_before_test": True,
                            "checklist_steps": [{"step_id": "reading", "description": "Reading",
                                                 "input_type": "number", "unit": "u",
                                                 "min": 90}]}
                           for i in range(ITEMS)]}


def line(topic, when, **data):
    return json.dumps({"topic": topic, "time": when, "data": data}, separators=(",", ":")) + "\n"


def events(out, records):
    """Writes events until about `records` ledger records would be written."""
    n = 0
    for p in range(PO_COUNT):
        out.write(line("clientpo.link", "2023-01-02T05:00:00Z", clientpo_id="PO-%d" % p,
                       equipment=["BR-%03d" % ((p + k) % ITEMS) for k in range(4)]))
        n += 1
    day = START
    while n < records:
        d = day.isoformat()
        offset = (day - START).days
        for i in range(ITEMS):  # the day's calibrations first: time never runs back
            if offset % 170 == i % 170:
                out.write(line("calibration.record", d + "T05:30:00Z", equipment_id="BR-%03d" % i,
                               calibration_date=d, certificate_number="C-%d-%d" % (i, offset),
                               provider="Lab", technician="T. One",
                               results=[{"parameter": "value", "unit": "u", "nominal": 100,
                                         "as_found": 100 + ((offset + i) % 5) - 2}]))
                n += 3
        for i in range(ITEMS):
            if (offset + i) % 97 != 0:  # now and then a check is missed
                out.write(line("maintenance.check", d + "T06:00:00Z", equipment_id="BR-%03d" % i,
                               check_type="BR-DAILY-%03d" % i, technician="T. %d" % (i % 3),
                               readings={"reading": 95 + (i % 7)}))
                n += 1
        for t in range(TESTS_PER_DAY):
            s = 7 * 3600 + t * 40
            out.write(line("test.start", "%sT%02d:%02d:%02dZ" % (d, s // 3600, s // 60 % 60, s % 60),
                           clientpo_id="PO-%d" % (t % PO_COUNT)))
            n += 1
        day += datetime.timedelta(days=1)
    return day


def timed(cmd, env):
    """Wall time and CPU time (user + system) of one run. On a shared machine the wall time
    includes waiting for a core; the CPU time is what the report itself costs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    took = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr.decode()))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--host", required=True)
    a.add_argument("--module-dir", required=True)
    a.add_argument("--records", type=int, default=1000000)
    a.add_argument("--keep")
    o = a.parse_args()
    work = o.keep or tempfile.mkdtemp(prefix="report-bench-")
    env = dict(os.environ, SMART_MODULE_PATH=o.module_dir)
    ledger = os.path.join(work, "var", "ledger.jsonl")
    try:
        if not os.path.exists(ledger):
            os.makedirs(os.path.join(work, "contracts"), exist_ok=True)
            with open(os.path.join(work, "contracts", "BR-CAL-001.json"), "w") as f:
                json.dump(contract(), f)
            with open(os.path.join(work, "node.json"), "w") as f:
                json.dump({"node_id": "NODE-BR-001", "station_type": "BR",
                           "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                           "modules": [{"path": "smart-maintenance.so",
                                        "config": {"contracts_dir": "contracts",
                                                   "data_dir": "var/maintenance",
                                                   "sweep_interval_s": 86400}}]}, f)
            with open(os.path.join(work, "events.jsonl"), "w") as f:
                events(f, o.records)
            took, _ = timed([o.host, "run", os.path.join(work, "node.json"), "--events",
                          os.path.join(work, "events.jsonl"), "--clock", "2023-01-02T04:00:00Z"],
                         env)
            print("generated through smart-host run in %.1f s" % took)
        with open(ledger, "rb") as f:
            count = sum(1 for _ in f)
        size = os.path.getsize(ledger) / 1e6
        print("ledger: %d records, %.0f MB" % (count, size))
        with open(ledger) as f:
            first = json.loads(f.readline())["time"][:10]
        month_from = (datetime.date.fromisoformat(first) + datetime.timedelta(days=400)).replace(day=1)
        month_to = (month_from + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
        due = [timed([o.host, "report", "due", ledger, "--format", "csv", "--out", os.devnull],
                     env) for _ in range(3)]
        audit = [timed([o.host, "report", "audit", ledger, "--from", month_from.isoformat(),
                        "--to", month_to.isoformat(), "--format", "html", "--out",
                        os.path.join(work, "audit.html")], env) for _ in range(3)]
        for name, runs, target in (("due list over %d records" % count, due, 5),
                                   ("audit pack for %s..%s" % (month_from, month_to), audit, 10)):
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print("%s: %.2f s wall, %.2f s CPU (target < %d s) %s"
                  % (name, wall, cpu, target, "ok" if wall < target else "OVER"))
    finally:
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

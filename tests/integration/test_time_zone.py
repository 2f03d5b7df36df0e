"""The station's day under a named time zone, through smart-host with a simulated clock.

A station in Europe/Berlin (and one in Australia/Sydney) across both daylight-saving changes of
2025: a daily check done late on the evening before a change, per-shift checks across it, a
calibration due on the day of it, and the issue's case of a station left at summer time in
winter. Every expectation here differs from what a fixed offset gives on one side of a change
or the other. Also: the module's config refuses an unknown zone and a zone given with an
offset, naming the field.

Run by meson with SMART_HOST, SMART_MODULE_DIR and SOURCE_ROOT in the environment."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

HOST = os.environ["SMART_HOST"]
MODULE_DIR = os.environ["SMART_MODULE_DIR"]


def host(args):
    env = dict(os.environ, SMART_MODULE_PATH=MODULE_DIR)
    return subprocess.run([HOST] + args, capture_output=True, text=True, env=env, timeout=120)


def event(topic, time, **data):
    return json.dumps({"topic": topic, "time": time, "data": data}) + "\n"


def check(time, equipment_id, procedure_id):
    return event("maintenance.check", time, equipment_id=equipment_id, check_type=procedure_id,
                 technician="R. Okafor", attestations={"done": True})


def start(time, po, *equipment, planned_end=None):
    data = {"clientpo_id": po, "equipment": list(equipment)}
    if planned_end:
        data["planned_end"] = planned_end
    return event("test.start", time, **data)


def item(equipment_id, calibrated="2025-01-10"):
    return {"equipment_id": equipment_id, "description": equipment_id,
            "equipment_type": "lamp", "calibration_interval_days": 365,
            "last_calibration": {"calibration_date": calibrated,
                                 "certificate_number": "C-" + equipment_id, "provider": "Lab"}}


def procedure(procedure_id, frequency, equipment_id):
    return {"procedure_id": procedure_id, "title": procedure_id, "equipment": [equipment_id],
            "frequency": frequency,
            "checklist_steps": [{"step_id": "done", "description": "done",
                                 "input_type": "checkbox"}]}


CONTRACT = {
    "smart_contract_id": "TZ-001", "contract_type": "SmartMaintenance", "version": 1,
    "station_type": "LP", "warning_period_days": 0,
    # 02:30 lies in Berlin's spring gap and twice in its autumn overlap
    "shift_starts": ["02:30", "06:00", "14:00", "22:00"],
    "equipment_list": [item("DAILY-1"), item("SHIFT-1"), item("DUE-SPRING", "2024-03-30"),
                       item("DUE-AUTUMN", "2024-10-26")],
    "procedures": [procedure("P-DAILY", "daily", "DAILY-1"),
                   procedure("P-SHIFT", "per_shift", "SHIFT-1")],
}


class Station:
    def __init__(self, test, **config):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="smart-tz-")
        test.addCleanup(shutil.rmtree, self.dir)
        os.makedirs(os.path.join(self.dir, "contracts"))
        with open(os.path.join(self.dir, "contracts", "TZ-001.json"), "w") as f:
            json.dump(CONTRACT, f)
        self.node = os.path.join(self.dir, "node.json")
        with open(self.node, "w") as f:
            json.dump({"node_id": "NODE-TZ-001", "station_type": "LP",
                       "ledger": "var/ledger.jsonl", "alerts": "var/alerts.jsonl",
                       "modules": [{"path": "smart-maintenance.so",
                                    "config": dict({"contracts_dir": "contracts",
                                                    "data_dir": "var/maintenance"},
                                                   **config)}]}, f)

    def run(self, events, expect_rc=0):
        path = os.path.join(self.dir, "events.jsonl")
        with open(path, "w") as f:
            f.write("".join(events))
        clock = json.loads(events[0])["time"]
        proc = host(["run", self.node, "--events", path, "--clock", clock])
        self.test.assertEqual(proc.returncode, expect_rc, proc.stderr)
        self.out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        self.stderr = proc.stderr
        return self

    def gate(self, po):
        found = [o["data"] for o in self.out
                 if o["topic"] == "gate.decision" and o["data"]["clientpo_id"] == po]
        self.test.assertEqual(len(found), 1, po)
        return found[0]

    def reason(self, po, equipment_id):
        """The gate's reason for one of the job's items."""
        return next(i["reason"] for i in self.gate(po)["equipment"]
                    if i["equipment_id"] == equipment_id)

    def allowed(self, po):
        return self.gate(po)["allowed"]

    def checked(self, equipment_id):
        return [o["data"] for o in self.out if o["topic"] == "maintenance.checked"
                and o["data"]["equipment_id"] == equipment_id]


class BerlinSpring(unittest.TestCase):
    """30 March 2025: 02:00 CET becomes 03:00 CEST (01:00Z); the day has 23 hours."""

    def test_a_daily_check_late_on_the_evening_before_ends_at_that_midnight(self):
        st = Station(self, time_zone="Europe/Berlin").run([
            check("2025-03-29T22:30:00Z", "DAILY-1", "P-DAILY"),    # Sat 23:30 CET
            start("2025-03-29T22:59:00Z", "PO-SAT", "DAILY-1"),      # Sat 23:59 CET
            start("2025-03-29T23:00:00Z", "PO-SUN", "DAILY-1"),      # Sun 00:00 CET
            check("2025-03-30T21:00:00Z", "DAILY-1", "P-DAILY"),    # Sun 23:00 CEST
            start("2025-03-30T21:59:00Z", "PO-SUN-LATE", "DAILY-1"),
            start("2025-03-30T22:00:00Z", "PO-MON", "DAILY-1"),      # Mon 00:00 CEST
        ])
        self.assertEqual(st.checked("DAILY-1")[0]["valid_until"], "2025-03-29T23:00:00Z")
        self.assertEqual(st.checked("DAILY-1")[1]["valid_until"], "2025-03-30T22:00:00Z")
        self.assertTrue(st.allowed("PO-SAT"))
        self.assertFalse(st.allowed("PO-SUN"))  # a fixed +02:00 counts the check as Sunday's
        self.assertIn("lapsed at 2025-03-29T23:00:00Z", st.reason("PO-SUN", "DAILY-1"))
        self.assertTrue(st.allowed("PO-SUN-LATE"))
        self.assertFalse(st.allowed("PO-MON"))  # a fixed +01:00 lets Sunday's check run on

    def test_a_per_shift_check_lasts_to_the_next_shift_on_the_wall_clock(self):
        st = Station(self, time_zone="Europe/Berlin").run([
            check("2025-03-29T21:30:00Z", "SHIFT-1", "P-SHIFT"),    # Sat 22:30 CET
            start("2025-03-30T00:59:00Z", "PO-1", "SHIFT-1"),        # Sun 01:59 CET
            start("2025-03-30T01:00:00Z", "PO-2", "SHIFT-1"),        # 03:00 CEST: 02:30 began
            check("2025-03-30T01:30:00Z", "SHIFT-1", "P-SHIFT"),    # 03:30 CEST
            start("2025-03-30T03:59:00Z", "PO-3", "SHIFT-1"),
            start("2025-03-30T04:00:00Z", "PO-4", "SHIFT-1"),        # 06:00 CEST
        ])
        self.assertEqual([c["valid_until"] for c in st.checked("SHIFT-1")],
                         ["2025-03-30T01:00:00Z", "2025-03-30T04:00:00Z"])
        self.assertTrue(st.allowed("PO-1"))
        self.assertFalse(st.allowed("PO-2"))
        self.assertTrue(st.allowed("PO-3"))
        self.assertFalse(st.allowed("PO-4"))


class BerlinAutumn(unittest.TestCase):
    """26 October 2025: 03:00 CEST becomes 02:00 CET (01:00Z); the day has 25 hours."""

    def test_a_daily_check_late_on_the_evening_before_ends_at_that_midnight(self):
        st = Station(self, time_zone="Europe/Berlin").run([
            check("2025-10-25T21:30:00Z", "DAILY-1", "P-DAILY"),    # Sat 23:30 CEST
            start("2025-10-25T21:59:00Z", "PO-SAT", "DAILY-1"),
            start("2025-10-25T22:00:00Z", "PO-SUN", "DAILY-1"),      # Sun 00:00 CEST
            check("2025-10-26T22:30:00Z", "DAILY-1", "P-DAILY"),    # Sun 23:30 CET
            start("2025-10-26T22:59:00Z", "PO-SUN-LATE", "DAILY-1"),
            start("2025-10-26T23:00:00Z", "PO-MON", "DAILY-1"),      # Mon 00:00 CET
        ])
        self.assertEqual([c["valid_until"] for c in st.checked("DAILY-1")],
                         ["2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z"])
        self.assertTrue(st.allowed("PO-SAT"))
        self.assertFalse(st.allowed("PO-SUN"))  # a fixed +01:00 lets Saturday's run on
        self.assertTrue(st.allowed("PO-SUN-LATE"))  # a fixed +02:00 counts it as Monday's
        self.assertFalse(st.allowed("PO-MON"))

    def test_a_per_shift_check_lasts_to_the_next_shift_on_the_wall_clock(self):
        st = Station(self, time_zone="Europe/Berlin").run([
            check("2025-10-25T20:30:00Z", "SHIFT-1", "P-SHIFT"),    # Sat 22:30 CEST
            start("2025-10-26T00:29:00Z", "PO-1", "SHIFT-1"),
            start("2025-10-26T00:30:00Z", "PO-2", "SHIFT-1"),        # 02:30 CEST, the first
            check("2025-10-26T01:00:00Z", "SHIFT-1", "P-SHIFT"),    # 02:00 CET, again
            start("2025-10-26T04:59:00Z", "PO-3", "SHIFT-1"),
            start("2025-10-26T05:00:00Z", "PO-4", "SHIFT-1"),        # 06:00 CET
        ])
        self.assertEqual([c["valid_until"] for c in st.checked("SHIFT-1")],
                         ["2025-10-26T00:30:00Z", "2025-10-26T05:00:00Z"])
        self.assertTrue(st.allowed("PO-1"))
        self.assertFalse(st.allowed("PO-2"))
        self.assertTrue(st.allowed("PO-3"))
        self.assertFalse(st.allowed("PO-4"))


class CalibrationDueOnTheDayOfAChange(unittest.TestCase):
    """Due on 30 March or 26 October 2025: valid through that local day, expired from the start
    of the next; neither fixed offset gets both right."""

    def test_spring_and_autumn(self):
        st = Station(self, time_zone="Europe/Berlin").run([
            start("2025-03-30T20:00:00Z", "PO-JOB", "DUE-SPRING",
                  planned_end="2025-03-30T22:30:00Z"),               # ends Mon 00:30 CEST
            start("2025-03-30T21:59:00Z", "PO-LAST", "DUE-SPRING"),  # Sun 23:59 CEST
            start("2025-03-30T22:00:00Z", "PO-NEXT", "DUE-SPRING"),  # Mon 00:00 CEST
            event("status.query", "2025-03-30T22:00:00Z"),
        ])
        self.assertFalse(st.allowed("PO-JOB"))
        self.assertIn("calibration valid through 2025-03-30, before the job's planned end",
                      st.reason("PO-JOB", "DUE-SPRING"))
        self.assertTrue(st.allowed("PO-LAST"))
        self.assertFalse(st.allowed("PO-NEXT"))
        status = [o["data"] for o in st.out if o["topic"] == "status"][-1]
        due = next(i for i in status["equipment"] if i["equipment_id"] == "DUE-SPRING")
        self.assertEqual((due["status"], due["days_overdue"]), ("expired", 1))

        st = Station(self, time_zone="Europe/Berlin").run([
            start("2025-10-25T22:00:00Z", "PO-FIRST", "DUE-AUTUMN"),  # Sun 00:00 CEST
            start("2025-10-26T20:00:00Z", "PO-JOB", "DUE-AUTUMN",
                  planned_end="2025-10-26T22:30:00Z"),                # ends Sun 23:30 CET
            start("2025-10-26T22:59:00Z", "PO-LAST", "DUE-AUTUMN"),   # Sun 23:59 CET
            start("2025-10-26T23:00:00Z", "PO-NEXT", "DUE-AUTUMN"),   # Mon 00:00 CET
        ])
        self.assertTrue(st.allowed("PO-FIRST"))
        self.assertTrue(st.allowed("PO-JOB"))  # a fixed +02:00 ends the day at 22:00Z
        self.assertTrue(st.allowed("PO-LAST"))
        self.assertFalse(st.allowed("PO-NEXT"))
        self.assertIn("1 day overdue", st.reason("PO-NEXT", "DUE-AUTUMN"))


class SummerTimeInWinter(unittest.TestCase):
    """The issue's case: a Monday-night check in winter, 3 November 2025, 23:30 CET."""

    EVENTS = [check("2025-11-03T22:30:00Z", "DAILY-1", "P-DAILY"),  # Mon 23:30 CET
              start("2025-11-03T23:30:00Z", "PO-TUE", "DAILY-1")]    # Tue 00:30 CET

    def test_with_the_zone_it_is_mondays_check(self):
        st = Station(self, time_zone="Europe/Berlin").run(self.EVENTS)
        self.assertEqual(st.checked("DAILY-1")[0]["valid_until"], "2025-11-03T23:00:00Z")
        self.assertFalse(st.allowed("PO-TUE"))

    def test_a_fixed_summer_offset_still_counts_it_as_tuesdays(self):
        st = Station(self, utc_offset="+02:00").run(self.EVENTS)
        self.assertEqual(st.checked("DAILY-1")[0]["valid_until"], "2025-11-04T22:00:00Z")
        self.assertTrue(st.allowed("PO-TUE"))


class SydneyBothChanges(unittest.TestCase):
    """A southern zone: summer time ends 6 April 2025 (03:00 AEDT -> 02:00 AEST) and starts
    5 October 2025 (02:00 AEST -> 03:00 AEDT)."""

    def test_daily_checks_late_on_the_evening_before(self):
        st = Station(self, time_zone="Australia/Sydney").run([
            check("2025-04-05T12:30:00Z", "DAILY-1", "P-DAILY"),    # Sat 23:30 AEDT
            start("2025-04-05T13:30:00Z", "PO-APR", "DAILY-1"),      # Sun 00:30 AEDT
            check("2025-10-04T13:30:00Z", "DAILY-1", "P-DAILY"),    # Sat 23:30 AEST
            start("2025-10-04T13:45:00Z", "PO-OCT-SAT", "DAILY-1"),  # Sat 23:45 AEST
            start("2025-10-04T14:30:00Z", "PO-OCT", "DAILY-1"),      # Sun 00:30 AEST
        ])
        self.assertEqual([c["valid_until"] for c in st.checked("DAILY-1")],
                         ["2025-04-05T13:00:00Z", "2025-10-04T14:00:00Z"])
        self.assertFalse(st.allowed("PO-APR"))  # a fixed +10:00 lets it run to 14:00Z
        self.assertTrue(st.allowed("PO-OCT-SAT"))  # a fixed +11:00 counts it as Sunday's
        self.assertFalse(st.allowed("PO-OCT"))


class Config(unittest.TestCase):
    def test_an_unknown_zone_is_refused_naming_the_field_and_the_value(self):
        st = Station(self, time_zone="Europe/Atlantis")
        proc = st.run([event("status.query", "2025-03-30T00:00:00Z")], expect_rc=5)
        self.assertIn("init failed: config.time_zone: 'Europe/Atlantis' is not a time zone",
                      proc.stderr)

    def test_a_zone_and_an_offset_are_not_both_taken(self):
        st = Station(self, time_zone="Europe/Berlin", utc_offset="+01:00")
        proc = st.run([event("status.query", "2025-03-30T00:00:00Z")], expect_rc=5)
        self.assertIn("init failed: config.time_zone: give time_zone or utc_offset, not both",
                      proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
